package io.skymesh.nameserver.cli;

import io.skymesh.codec.Tickets;
import io.skymesh.proto.TicketClaims;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads {@code serve --ticket-key}: one PEM file holding an Ed25519 {@code PRIVATE KEY} (PKCS#8)
 * and its {@code PUBLIC KEY} (the JDK cannot derive one from the other), as made by
 *
 * <pre>
 * openssl genpkey -algorithm ed25519 -out ticket-key.pem
 * openssl pkey -in ticket-key.pem -pubout &gt;&gt; ticket-key.pem
 * </pre>
 *
 * Reads a file: the command's own thread only (a blocking edge).
 */
final class TicketKeyFile {

  private static final Pattern BLOCK =
      Pattern.compile("-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

  private TicketKeyFile() {}

  /**
   * The key pair in {@code file}.
   *
   * @throws IllegalArgumentException naming the file and what is wrong with it
   */
  static KeyPair read(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException("--ticket-key " + file + ": cannot read it: " + e, e);
    }
    byte[] privateDer = null;
    byte[] publicDer = null;
    Matcher block = BLOCK.matcher(text);
    while (block.find()) {
      byte[] der = Base64.getMimeDecoder().decode(block.group(2));
      switch (block.group(1)) {
        case "PRIVATE KEY" -> privateDer = der;
        case "PUBLIC KEY" -> publicDer = der;
        default -> {
          // Other blocks (a certificate, parameters) are not ours: ignored.
        }
      }
    }
    if (privateDer == null || publicDer == null) {
      throw new IllegalArgumentException(
          "--ticket-key "
              + file
              + ": expected a PEM 'PRIVATE KEY' (PKCS#8) and its 'PUBLIC KEY', Ed25519 (found "
              + (privateDer == null ? "no private key" : "no public key")
              + ")");
    }
    try {
      KeyFactory keys = KeyFactory.getInstance(Tickets.ALGORITHM);
      PrivateKey privateKey = keys.generatePrivate(new PKCS8EncodedKeySpec(privateDer));
      PublicKey publicKey = keys.generatePublic(new X509EncodedKeySpec(publicDer));
      KeyPair pair = new KeyPair(publicKey, privateKey);
      checkPair(file, pair);
      return pair;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "--ticket-key " + file + ": not an Ed25519 key pair: " + e.getMessage(), e);
    }
  }

  /** Signs and verifies once, so a public key of another pair is refused at start. */
  private static void checkPair(Path file, KeyPair pair) {
    TicketClaims probe = TicketClaims.newBuilder().setAppId("probe").build();
    try {
      Tickets.verify(Tickets.sign(probe, pair.getPrivate()), List.of(pair.getPublic()));
    } catch (Tickets.InvalidTicketException e) {
      throw new IllegalArgumentException(
          "--ticket-key " + file + ": its public key is not the private key's", e);
    }
  }
}
