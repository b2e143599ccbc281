/**
 * Routing policies: pure, lock-free strategies that pick one instance of a service from an
 * immutable {@link io.skymesh.mesh.ServiceView}, an optional key and per-peer statistics.
 */
package io.skymesh.mesh.routing;
