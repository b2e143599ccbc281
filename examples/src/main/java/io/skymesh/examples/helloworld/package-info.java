/** Skymesh's helloworld: a greeter service and a client that greets it, through a name server. */
package io.skymesh.examples.helloworld;
