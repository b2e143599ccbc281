/**
 * Skymesh's inner_service demo as request / response: a protobuf SayHello, client and server timing
 * interceptors, a notification and then a request with a deadline.
 */
package io.skymesh.examples.innerservice;
