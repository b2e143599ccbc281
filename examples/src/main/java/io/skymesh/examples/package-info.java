/** Runnable Skymesh programs, one per feature; {@link io.skymesh.examples.Demo} runs them. */
package io.skymesh.examples;
