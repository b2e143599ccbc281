/**
 * Request / response internals: stream tables per connection, the per-peer limiter, the server side
 * of calls. No compatibility promise.
 */
package io.skymesh.mesh.internal.rpc;
