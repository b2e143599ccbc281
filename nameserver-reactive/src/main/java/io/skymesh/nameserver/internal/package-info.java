/**
 * The name server's implementation: the one writer, sessions and their bounded outbound queues,
 * watch history. No compatibility promise: use {@link io.skymesh.nameserver.NameServer} instead.
 */
package io.skymesh.nameserver.internal;
