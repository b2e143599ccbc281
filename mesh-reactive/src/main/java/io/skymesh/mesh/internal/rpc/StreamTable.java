package io.skymesh.mesh.internal.rpc;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The requests in flight on one connection, by stream id, without boxing the id: an array of
 * {@value #SLOTS} slots indexed by the id's low bits, and a map for the ids whose slot is taken.
 *
 * <p>A connection's ids are given out in sequence (by this process, or by a well-behaved peer), so
 * a slot is free again long before its index comes round: a request goes in and out of the table
 * with one compare-and-set each. Nothing is counted on the way: {@link #size} and {@link #isEmpty}
 * scan the slots, for gauges, tests and a close waiting for the table to empty. An id whose slot
 * still holds an older request (one more than {@value #SLOTS} ids behind, or a peer that picks ids
 * of its own) goes to the map, as every id did before; lookups fall back to it while it is not
 * empty. Removals may come from any thread. {@link #putIfAbsent} refuses an id already in the table
 * provided the puts of a table are made by one thread at a time (a connection's event loop, for the
 * requests a peer sends); ids this process gives out are unique.
 *
 * @param <T> the entries, which know their id
 */
final class StreamTable<T extends StreamTable.Entry> {

  /** An entry of the table: a request in flight. */
  interface Entry {
    /** The entry's stream id on its connection. */
    long streamId();
  }

  /** The slots of a table; a power of two. */
  static final int SLOTS = 1024;

  private final AtomicReferenceArray<T> slots = new AtomicReferenceArray<>(SLOTS);
  private final Map<Long, T> overflow = new ConcurrentHashMap<>();

  /**
   * Adds an entry unless one with its id is in the table.
   *
   * @param entry the entry
   * @return null if added, or the entry with that id that is in the table
   */
  @Nullable T putIfAbsent(T entry) {
    long id = entry.streamId();
    if (!overflow.isEmpty()) {
      T there = overflow.get(id);
      if (there != null) {
        return there;
      }
    }
    int index = index(id);
    T inSlot = slots.get(index);
    if (inSlot == null && slots.compareAndSet(index, null, entry)) {
      return null;
    }
    if (inSlot != null && inSlot.streamId() == id) {
      return inSlot;
    }
    return overflow.putIfAbsent(id, entry);
  }

  /**
   * The entry of an id.
   *
   * @param id the stream id
   * @return the entry, or null if none
   */
  @Nullable T get(long id) {
    T inSlot = slots.get(index(id));
    if (inSlot != null && inSlot.streamId() == id) {
      return inSlot;
    }
    return overflow.isEmpty() ? null : overflow.get(id);
  }

  /**
   * Takes the entry of an id out of the table.
   *
   * @param id the stream id
   * @return the entry taken, or null if there was none (or another thread took it first)
   */
  @Nullable T remove(long id) {
    int index = index(id);
    T inSlot = slots.get(index);
    if (inSlot != null && inSlot.streamId() == id) {
      return slots.compareAndSet(index, inSlot, null) ? inSlot : null;
    }
    return overflow.isEmpty() ? null : overflow.remove(id);
  }

  /**
   * Takes an entry out of the table if it is still there.
   *
   * @param entry the entry
   * @return whether this call took it out
   */
  boolean remove(T entry) {
    long id = entry.streamId();
    int index = index(id);
    if (slots.get(index) == entry) {
      return slots.compareAndSet(index, entry, null);
    }
    return !overflow.isEmpty() && overflow.remove(id, entry);
  }

  /** Takes every entry out, handing each to {@code taken}; entries added meanwhile may stay. */
  void drain(Consumer<? super T> taken) {
    for (int i = 0; i < SLOTS; i++) {
      T inSlot = slots.get(i);
      if (inSlot != null && slots.compareAndSet(i, inSlot, null)) {
        taken.accept(inSlot);
      }
    }
    for (T entry : overflow.values()) {
      if (overflow.remove(entry.streamId(), entry)) {
        taken.accept(entry);
      }
    }
  }

  /** Calls {@code action} with each entry in the table now (weakly consistent, as a map's view). */
  void forEach(Consumer<? super T> action) {
    for (int i = 0; i < SLOTS; i++) {
      T inSlot = slots.get(i);
      if (inSlot != null) {
        action.accept(inSlot);
      }
    }
    overflow.values().forEach(action);
  }

  /** The number of entries; an instant reading, made by scanning the slots. */
  int size() {
    int count = overflow.size();
    for (int i = 0; i < SLOTS; i++) {
      if (slots.get(i) != null) {
        count++;
      }
    }
    return count;
  }

  /** Whether the table is empty; an instant reading, made by scanning the slots. */
  boolean isEmpty() {
    if (!overflow.isEmpty()) {
      return false;
    }
    for (int i = 0; i < SLOTS; i++) {
      if (slots.get(i) != null) {
        return false;
      }
    }
    return true;
  }

  private static int index(long id) {
    return (int) id & (SLOTS - 1);
  }
}
