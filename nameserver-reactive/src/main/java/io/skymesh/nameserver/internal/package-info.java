/**
 * The name server's implementation: the protocol dispatch and its one writer, the writer-confined
 * parts that hold the state (instance table and sessions, watches and history, elections, KV,
 * revisions), sessions' bounded outbound queues, and the data directory's log. No compatibility
 * promise: use {@link io.skymesh.nameserver.NameServer} instead.
 */
package io.skymesh.nameserver.internal;
