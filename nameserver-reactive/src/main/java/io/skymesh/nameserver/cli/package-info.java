/** The standalone name server's command line ({@code java -jar nameserver.jar serve}). */
package io.skymesh.nameserver.cli;
