/**
 * streams (adaptiveservice's streams, RSocket's request-stream and request-channel): a ticker
 * streams prices to a slow reader whose demand holds it back, and a chat channel shouts back each
 * line it is sent.
 */
package io.skymesh.examples.streams;
