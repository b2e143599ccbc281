/** The frame codec on a real loopback connection: an echo server and a client. */
package io.skymesh.examples.codec;
