/**
 * The Skymesh frame format: a 4-byte big-endian unsigned body length, then a protobuf body, as
 * Netty handlers and static helpers over {@code ByteBuf}.
 */
package io.skymesh.codec;
