/**
 * The name server's storage SPI: what a store must do for the protocol dispatch (sessions,
 * instances, elections, KV, watches, revisions); a work in progress with no compatibility promise
 * yet.
 */
package io.skymesh.nameserver.spi;
