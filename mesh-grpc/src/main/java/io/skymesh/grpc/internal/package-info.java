/** The name resolver behind {@code io.skymesh.grpc}; no compatibility promise. */
package io.skymesh.grpc.internal;
