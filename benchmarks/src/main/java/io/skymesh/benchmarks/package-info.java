/** JMH benchmarks of Skymesh, each measured beside the same work done by a reference library. */
package io.skymesh.benchmarks;
