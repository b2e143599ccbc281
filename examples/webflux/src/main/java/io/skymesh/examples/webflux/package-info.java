/**
 * A Spring Boot WebFlux application on the mesh: an HTTP handler returns a mesh call as its {@code
 * Mono}, and a server-sent-events endpoint streams a router's membership.
 */
package io.skymesh.examples.webflux;
