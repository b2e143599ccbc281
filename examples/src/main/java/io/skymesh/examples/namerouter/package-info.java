/**
 * name-router (skymesh's name_router demo): two echo servers that publish how many messages they
 * received as an attribute, and a client that routes to them by round robin and by key hash while
 * watching those attributes.
 */
package io.skymesh.examples.namerouter;
