package io.skymesh.codec;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.skymesh.proto.PeerTicket;
import io.skymesh.proto.TicketClaims;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.X509EncodedKeySpec;
import java.util.Collection;

/**
 * Peer tickets ({@code ticket.proto}): the name server's signature over a mesh's app and holder
 * key, and the holder's proof in each {@code Hello}. Ed25519 through the JDK; the bytes signed
 * carry a domain-separation prefix, so neither kind of signature can pass for the other.
 *
 * <p>Signing and verifying use no randomness and no I/O, so they may run on an event loop; {@link
 * #newKeyPair()} reads the system's random source, so call it where blocking is allowed.
 */
public final class Tickets {

  /** The signature algorithm of tickets and proofs, and the algorithm of their keys. */
  public static final String ALGORITHM = "Ed25519";

  private static final byte[] TICKET_CONTEXT = context("skymesh-ticket-v1");
  private static final byte[] PROOF_CONTEXT = context("skymesh-hello-v1");

  private Tickets() {}

  /** A ticket that does not hold: its reason is the message, fit to send to the peer. */
  public static final class InvalidTicketException extends Exception {
    private static final long serialVersionUID = 1L;

    private final boolean untrustedIssuer;

    /**
     * Creates the exception.
     *
     * @param message what does not hold
     */
    public InvalidTicketException(String message) {
      this(message, false);
    }

    private InvalidTicketException(String message, boolean untrustedIssuer) {
      super(message);
      this.untrustedIssuer = untrustedIssuer;
    }

    /**
     * Whether the only fault found is that no trusted issuer signed the ticket: a verifier that may
     * have missed a change of its name server's key can learn the new key and check again.
     */
    public boolean untrustedIssuer() {
      return untrustedIssuer;
    }
  }

  /**
   * Makes a new Ed25519 key pair. Reads the system's random source: not on an event loop.
   *
   * @return the key pair
   */
  public static KeyPair newKeyPair() {
    try {
      return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no " + ALGORITHM, e);
    }
  }

  /**
   * The wire form of a public key: X.509 SubjectPublicKeyInfo, DER.
   *
   * @param key an Ed25519 public key
   * @return its encoding
   */
  public static ByteString encode(PublicKey key) {
    return ByteString.copyFrom(key.getEncoded());
  }

  /**
   * Reads a public key from its wire form.
   *
   * @param encoded X.509 SubjectPublicKeyInfo, DER
   * @return the Ed25519 public key
   * @throws InvalidTicketException if the bytes are not an Ed25519 public key
   */
  public static PublicKey decodeKey(ByteString encoded) throws InvalidTicketException {
    try {
      return KeyFactory.getInstance(ALGORITHM)
          .generatePublic(new X509EncodedKeySpec(encoded.toByteArray()));
    } catch (InvalidKeySpecException | ClassCastException e) {
      throw new InvalidTicketException(
          "not an " + ALGORITHM + " public key (" + encoded.size() + " bytes)");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no " + ALGORITHM, e);
    }
  }

  /**
   * Signs claims as an issuer.
   *
   * @param claims what the issuer vouches for
   * @param issuer the issuer's private key
   * @return the signed ticket
   */
  public static PeerTicket sign(TicketClaims claims, PrivateKey issuer) {
    ByteString bytes = claims.toByteString();
    return PeerTicket.newBuilder()
        .setClaims(bytes)
        .setSignature(sign(issuer, TICKET_CONTEXT, bytes))
        .build();
  }

  /**
   * Checks a ticket's signature against the trusted issuer keys and reads its claims. Does not
   * check the validity period: see {@link #checkValid}.
   *
   * @param ticket the ticket
   * @param issuers the issuer keys trusted
   * @return the claims
   * @throws InvalidTicketException if no trusted issuer signed it, or its claims do not parse
   */
  public static TicketClaims verify(PeerTicket ticket, Collection<PublicKey> issuers)
      throws InvalidTicketException {
    boolean signed = false;
    for (PublicKey issuer : issuers) {
      if (verify(issuer, TICKET_CONTEXT, ticket.getSignature(), ticket.getClaims())) {
        signed = true;
        break;
      }
    }
    if (!signed) {
      throw new InvalidTicketException(
          issuers.isEmpty()
              ? "no ticket issuer is trusted yet (this mesh has no ticket of its own)"
              : "the ticket is not signed by a trusted issuer (a name server of another name"
                  + " service, or nodes of one service that do not share their ticket key)",
          true);
    }
    try {
      return TicketClaims.parseFrom(ticket.getClaims());
    } catch (InvalidProtocolBufferException e) {
      throw new InvalidTicketException("the ticket's claims do not parse: " + e.getMessage());
    }
  }

  /**
   * Checks that claims are valid at a time.
   *
   * @param claims the claims
   * @param nowMillis the time, in milliseconds since the Unix epoch
   * @throws InvalidTicketException if the ticket expired at or before {@code nowMillis}
   */
  public static void checkValid(TicketClaims claims, long nowMillis) throws InvalidTicketException {
    if (nowMillis >= claims.getExpiresAtMillis()) {
      throw new InvalidTicketException(
          "the ticket for app "
              + claims.getAppId()
              + " expired "
              + (nowMillis - claims.getExpiresAtMillis())
              + " ms ago");
    }
  }

  /**
   * Proves, as a ticket's holder, that a {@code Hello} is meant for {@code audience}.
   *
   * @param ticket the holder's ticket
   * @param processId the {@code Hello}'s process id
   * @param audience the listen address dialed, or, in an answering {@code Hello}, the dialer's
   *     process id
   * @param holder the holder's private key
   * @return the proof, for {@code Hello.proof}
   */
  public static ByteString prove(
      PeerTicket ticket, String processId, String audience, PrivateKey holder) {
    return sign(holder, PROOF_CONTEXT, proofBytes(ticket, processId, audience));
  }

  /**
   * Checks a {@code Hello}'s proof against the holder key of its (verified) ticket.
   *
   * @param ticket the ticket the {@code Hello} carried
   * @param claims its claims, from {@link #verify}
   * @param processId the {@code Hello}'s process id
   * @param audience who this side is: its listen address (for a dialer's {@code Hello}) or its
   *     process id (for the answer to this side's {@code Hello})
   * @param proof the {@code Hello}'s proof
   * @throws InvalidTicketException if the holder key is bad or the proof does not verify
   */
  public static void checkProof(
      PeerTicket ticket, TicketClaims claims, String processId, String audience, ByteString proof)
      throws InvalidTicketException {
    PublicKey holder = decodeKey(claims.getHolderKey());
    if (!verify(holder, PROOF_CONTEXT, proof, proofBytes(ticket, processId, audience))) {
      throw new InvalidTicketException(
          "the Hello's proof does not verify with the ticket's holder key: the ticket is"
              + " someone else's, or the Hello was meant for another peer than "
              + audience);
    }
  }

  private static ByteString proofBytes(PeerTicket ticket, String processId, String audience) {
    return ticket
        .getSignature()
        .concat(ByteString.copyFrom(new byte[] {0}))
        .concat(ByteString.copyFromUtf8(processId))
        .concat(ByteString.copyFrom(new byte[] {0}))
        .concat(ByteString.copyFromUtf8(audience));
  }

  private static ByteString sign(PrivateKey key, byte[] context, ByteString bytes) {
    try {
      Signature signature = Signature.getInstance(ALGORITHM);
      signature.initSign(key);
      signature.update(context);
      signature.update(bytes.asReadOnlyByteBuffer());
      return ByteString.copyFrom(signature.sign());
    } catch (InvalidKeyException e) {
      throw new IllegalArgumentException("not an " + ALGORITHM + " private key", e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(ALGORITHM + " signing failed", e);
    }
  }

  private static boolean verify(
      PublicKey key, byte[] context, ByteString signatureBytes, ByteString bytes) {
    try {
      Signature signature = Signature.getInstance(ALGORITHM);
      signature.initVerify(key);
      signature.update(context);
      signature.update(bytes.asReadOnlyByteBuffer());
      return signature.verify(signatureBytes.toByteArray());
    } catch (InvalidKeyException | SignatureException e) {
      return false;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no " + ALGORITHM, e);
    }
  }

  private static byte[] context(String name) {
    byte[] text = name.getBytes(StandardCharsets.US_ASCII);
    byte[] context = new byte[text.length + 1];
    System.arraycopy(text, 0, context, 0, text.length);
    return context;
  }
}
