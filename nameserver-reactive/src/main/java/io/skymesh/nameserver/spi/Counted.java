package io.skymesh.nameserver.spi;

/**
 * The outcome of a change that touches any number of things (KV deletes, clearing services).
 *
 * @param count how many keys were deleted or instances removed
 * @param revision the revision of the last of those changes, or the current revision if none
 */
public record Counted(long count, long revision) {}
