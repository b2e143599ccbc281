/**
 * The mesh's session with the name service: requests, keepalives, failover between nodes, watches.
 */
package io.skymesh.mesh.internal.naming;
