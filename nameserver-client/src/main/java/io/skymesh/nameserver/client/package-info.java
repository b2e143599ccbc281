/** A client connection of the name-server protocol, shared by the mesh, the admin CLI and tests. */
package io.skymesh.nameserver.client;
