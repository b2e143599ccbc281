package io.skymesh.nameserver.spi;

import io.skymesh.proto.KvEntry;
import java.util.List;

/**
 * KV entries read at one revision: a get (zero or one entry) or a list (in key order).
 *
 * @param entries the entries, in key order; empty when a get found nothing
 * @param revision the store's revision the read was made at
 */
public record KvRead(List<KvEntry> entries, long revision) {

  /** Copies the list. */
  public KvRead {
    entries = List.copyOf(entries);
  }
}
