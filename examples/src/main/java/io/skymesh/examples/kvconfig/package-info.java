/**
 * kv-config (cellmesh's cloud config): an operator writes a route table and settings into the name
 * server's KV config, a game service watches them, reads typed values with defaults, and two
 * processes bump a counter with compare-and-set.
 */
package io.skymesh.examples.kvconfig;
