package io.skymesh.mesh;

import io.skymesh.core.ServiceUrl;
import java.util.Arrays;

/**
 * A persistent hash trie (Bagwell's HAMT) from url to instance: a look-up follows at most {@code
 * log32 n} nodes (4 at 100,000), and a change copies one node of at most 32 slots per level, so
 * every older index stays valid and shares the rest. Urls whose 32-bit hashes are equal share a
 * collision node.
 */
final class UrlIndex {

  private static final int BITS = 5;
  private static final int MASK = (1 << BITS) - 1;

  private UrlIndex() {}

  /**
   * A trie node: a slot per set bit of {@code bitmap}, each an {@link Instance}, a {@link Node} or
   * a {@link Collision}.
   */
  static final class Node {
    static final Node EMPTY = new Node(0, new Object[0]);

    final int bitmap;
    final Object[] slots;

    Node(int bitmap, Object[] slots) {
      this.bitmap = bitmap;
      this.slots = slots;
    }
  }

  /** Instances whose urls hash the same. */
  private record Collision(int hash, Instance[] instances) {}

  static int hash(ServiceUrl url) {
    int h = url.hashCode();
    return h ^ (h >>> 16);
  }

  /** The instance of {@code url}, or {@code null}. */
  static Instance get(Node root, ServiceUrl url) {
    int hash = hash(url);
    Node node = root;
    for (int shift = 0; ; shift += BITS) {
      int bit = 1 << ((hash >>> shift) & MASK);
      if ((node.bitmap & bit) == 0) {
        return null;
      }
      Object slot = node.slots[Integer.bitCount(node.bitmap & (bit - 1))];
      if (slot instanceof Node child) {
        node = child;
      } else if (slot instanceof Instance instance) {
        return instance.url().equals(url) ? instance : null;
      } else {
        for (Instance instance : ((Collision) slot).instances) {
          if (instance.url().equals(url)) {
            return instance;
          }
        }
        return null;
      }
    }
  }

  /** The index with {@code instance} added or replacing the instance of its url. */
  static Node put(Node node, Instance instance) {
    return put(node, instance, hash(instance.url()), 0);
  }

  private static Node put(Node node, Instance instance, int hash, int shift) {
    int bit = 1 << ((hash >>> shift) & MASK);
    int at = Integer.bitCount(node.bitmap & (bit - 1));
    if ((node.bitmap & bit) == 0) {
      Object[] slots = new Object[node.slots.length + 1];
      System.arraycopy(node.slots, 0, slots, 0, at);
      slots[at] = instance;
      System.arraycopy(node.slots, at, slots, at + 1, node.slots.length - at);
      return new Node(node.bitmap | bit, slots);
    }
    Object slot = node.slots[at];
    Object replacement;
    if (slot instanceof Node child) {
      replacement = put(child, instance, hash, shift + BITS);
    } else if (slot instanceof Instance present) {
      if (present.url().equals(instance.url())) {
        replacement = instance;
      } else {
        replacement = pair(present, hash(present.url()), instance, hash, shift + BITS);
      }
    } else {
      Collision collision = (Collision) slot;
      replacement =
          collision.hash == hash
              ? putInto(collision, instance)
              : pair(collision, collision.hash, instance, hash, shift + BITS);
    }
    Object[] slots = node.slots.clone();
    slots[at] = replacement;
    return new Node(node.bitmap, slots);
  }

  /** A slot holding two entries (instances or collisions) that shared a slot one level up. */
  private static Object pair(Object a, int hashA, Object b, int hashB, int shift) {
    if (hashA == hashB) {
      return new Collision(hashA, new Instance[] {(Instance) a, (Instance) b});
    }
    if (shift >= Integer.SIZE) {
      throw new IllegalStateException("distinct hashes cannot agree in every bit");
    }
    int bitA = 1 << ((hashA >>> shift) & MASK);
    int bitB = 1 << ((hashB >>> shift) & MASK);
    if (bitA == bitB) {
      return new Node(bitA, new Object[] {pair(a, hashA, b, hashB, shift + BITS)});
    }
    return Integer.compareUnsigned(bitA, bitB) < 0 // slot order is bit order, bit 31 included
        ? new Node(bitA | bitB, new Object[] {a, b})
        : new Node(bitA | bitB, new Object[] {b, a});
  }

  private static Collision putInto(Collision collision, Instance instance) {
    Instance[] instances = collision.instances;
    for (int i = 0; i < instances.length; i++) {
      if (instances[i].url().equals(instance.url())) {
        Instance[] copy = instances.clone();
        copy[i] = instance;
        return new Collision(collision.hash, copy);
      }
    }
    Instance[] copy = Arrays.copyOf(instances, instances.length + 1);
    copy[instances.length] = instance;
    return new Collision(collision.hash, copy);
  }

  /** The index without {@code url}; the same index if it is not there. */
  static Node remove(Node root, ServiceUrl url) {
    Object result = remove(root, url, hash(url), 0);
    return result instanceof Node node ? node : singleton(result);
  }

  /**
   * {@code node} without {@code url}: the same node if absent, else a node, or the one slot left
   * when a sub-trie shrinks to it (so that it moves up), or {@code null} when nothing is left.
   */
  private static Object remove(Node node, ServiceUrl url, int hash, int shift) {
    int bit = 1 << ((hash >>> shift) & MASK);
    if ((node.bitmap & bit) == 0) {
      return node;
    }
    int at = Integer.bitCount(node.bitmap & (bit - 1));
    Object slot = node.slots[at];
    Object replacement;
    if (slot instanceof Node child) {
      replacement = remove(child, url, hash, shift + BITS);
      if (replacement == child) {
        return node;
      }
    } else if (slot instanceof Instance present) {
      if (!present.url().equals(url)) {
        return node;
      }
      replacement = null;
    } else {
      Collision collision = (Collision) slot;
      Instance[] instances = collision.instances;
      int found = -1;
      for (int i = 0; i < instances.length; i++) {
        if (instances[i].url().equals(url)) {
          found = i;
        }
      }
      if (found < 0) {
        return node;
      }
      if (instances.length == 2) {
        replacement = instances[1 - found];
      } else {
        Instance[] rest = new Instance[instances.length - 1];
        System.arraycopy(instances, 0, rest, 0, found);
        System.arraycopy(instances, found + 1, rest, found, rest.length - found);
        replacement = new Collision(collision.hash, rest);
      }
    }
    if (replacement == null) {
      if (node.slots.length == 1) {
        return null;
      }
      if (node.slots.length == 2 && !(node.slots[1 - at] instanceof Node)) {
        return node.slots[1 - at]; // the last entry moves up
      }
      Object[] slots = new Object[node.slots.length - 1];
      System.arraycopy(node.slots, 0, slots, 0, at);
      System.arraycopy(node.slots, at + 1, slots, at, slots.length - at);
      return new Node(node.bitmap & ~bit, slots);
    }
    if (node.slots.length == 1 && !(replacement instanceof Node)) {
      return replacement; // a lone entry keeps moving up
    }
    Object[] slots = node.slots.clone();
    slots[at] = replacement;
    return new Node(node.bitmap, slots);
  }

  /** A root holding one entry (or nothing), which a removal may leave. */
  private static Node singleton(Object entry) {
    if (entry == null) {
      return Node.EMPTY;
    }
    ServiceUrl url =
        entry instanceof Instance instance
            ? instance.url()
            : ((Collision) entry).instances[0].url();
    int hash = entry instanceof Collision collision ? collision.hash : hash(url);
    return new Node(1 << (hash & MASK), new Object[] {entry});
  }
}
