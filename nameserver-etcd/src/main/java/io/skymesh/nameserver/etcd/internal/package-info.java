/**
 * The mapping of sessions, instances, watches, elections and KV onto etcd; no compatibility
 * promise.
 */
package io.skymesh.nameserver.etcd.internal;
