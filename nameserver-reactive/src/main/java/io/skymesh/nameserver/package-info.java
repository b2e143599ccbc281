/** The Skymesh name server: sessions, the instance registry, watches and attributes, embedded. */
package io.skymesh.nameserver;
