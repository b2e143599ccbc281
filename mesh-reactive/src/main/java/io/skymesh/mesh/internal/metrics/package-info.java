/**
 * The mesh's Micrometer meters: the hooks the data plane, requests and routers call, cached per tag
 * combination and free when no registry is configured. No compatibility promise.
 */
package io.skymesh.mesh.internal.metrics;
