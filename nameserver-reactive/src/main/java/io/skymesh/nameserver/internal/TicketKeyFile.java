package io.skymesh.nameserver.internal;

import io.skymesh.codec.Tickets;
import io.skymesh.proto.TicketClaims;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
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
 * The ticket key's file, {@code serve --ticket-key}'s and the data directory's: one PEM file
 * holding an Ed25519 {@code PRIVATE KEY} (PKCS#8) and its {@code PUBLIC KEY} (the JDK cannot derive
 * one from the other), as made by
 *
 * <pre>
 * openssl genpkey -algorithm ed25519 -out ticket-key.pem
 * openssl pkey -in ticket-key.pem -pubout &gt;&gt; ticket-key.pem
 * </pre>
 *
 * Reads and writes files: a thread that may block only.
 */
public final class TicketKeyFile {

  /** The file of the ticket key a server with a data directory keeps there. */
  public static final String IN_DATA_DIRECTORY = "ticket-key.pem";

  private static final Pattern BLOCK =
      Pattern.compile("-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

  private TicketKeyFile() {}

  /**
   * The key pair in {@code file}.
   *
   * @param file the PEM file
   * @param what how the file was named, for messages: an option, or "the data directory's"
   * @return the key pair
   * @throws IllegalArgumentException naming the file and what is wrong with it
   */
  public static KeyPair read(Path file, String what) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException(what + " " + file + ": cannot read it: " + e, e);
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
          what
              + " "
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
      checkPair(file, what, pair);
      return pair;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          what + " " + file + ": not an Ed25519 key pair: " + e.getMessage(), e);
    }
  }

  /** Signs and verifies once, so a public key of another pair is refused at start. */
  private static void checkPair(Path file, String what, KeyPair pair) {
    TicketClaims probe = TicketClaims.newBuilder().setAppId("probe").build();
    try {
      Tickets.verify(Tickets.sign(probe, pair.getPrivate()), List.of(pair.getPublic()));
    } catch (Tickets.InvalidTicketException e) {
      throw new IllegalArgumentException(
          what + " " + file + ": its public key is not the private key's", e);
    }
  }

  /**
   * The key pair kept in a data directory: read if the file is there, else made and written
   * (readable by its owner only, where the file system says who owns what), so the server signs
   * with the same key after a restart.
   *
   * @param directory the data directory, created if missing
   * @return the key pair
   * @throws UncheckedIOException if the file cannot be written
   */
  public static KeyPair inDataDirectory(Path directory) {
    Path file = directory.resolve(IN_DATA_DIRECTORY);
    if (Files.exists(file)) {
      return read(file, "the data directory's ticket key");
    }
    KeyPair pair = Tickets.newKeyPair();
    try {
      Files.createDirectories(directory);
      Path temporary = directory.resolve(IN_DATA_DIRECTORY + ".tmp");
      Files.deleteIfExists(temporary);
      if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
        Files.createFile(
            temporary,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      }
      Files.writeString(
          temporary,
          pem("PRIVATE KEY", pair.getPrivate().getEncoded())
              + pem("PUBLIC KEY", pair.getPublic().getEncoded()),
          StandardCharsets.US_ASCII);
      Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the ticket key to " + file, e);
    }
    return pair;
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }
}
