package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Tickets;
import io.skymesh.codec.Tickets.InvalidTicketException;
import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.proto.Hello;
import io.skymesh.proto.PeerTicket;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.TicketClaims;
import io.skymesh.proto.TicketIssued;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.util.Logger;
import reactor.util.Loggers;

/**
 * This mesh's peer ticket ({@code ticket.proto}) and the checks of its peers' tickets: the mesh's
 * own Ed25519 holder key, the ticket its name server signed for it (renewed after two thirds of its
 * lifetime), and the issuer keys the name server handed out with its tickets, which are the only
 * ones trusted. Thread-safe.
 */
public final class PeerTickets {

  private static final Logger log = Loggers.getLogger(PeerTickets.class);

  /** Issuer keys kept: the current one and a few before it, for tickets signed before a change. */
  private static final int MAX_ISSUERS = 4;

  /** The shortest time between two early renewals ({@link #refresh()}). */
  private static final Duration REFRESH_INTERVAL = Duration.ofSeconds(1);

  private static final Duration RETRY_MIN = Duration.ofMillis(500);
  private static final Duration RETRY_MAX = Duration.ofSeconds(30);

  private final Function<ByteString, Mono<TicketIssued>> issuer;
  private final Scheduler timer;
  private final Disposable.Swap renewal = Disposables.swap();
  private final AtomicLong issued = new AtomicLong();
  private final AtomicLong failedRenewals = new AtomicLong();
  private volatile @Nullable KeyPair holder;
  private volatile @Nullable Held current;
  private volatile List<PublicKey> issuers = List.of();
  private volatile Consumer<PeerTicket> onRenewed = ticket -> {};
  private final AtomicReference<Mono<Void>> refreshing = new AtomicReference<>();
  private volatile long lastPeerRefreshNanos;
  private volatile boolean closed;

  /** A ticket with its claims, read once. */
  private record Held(PeerTicket ticket, TicketClaims claims) {}

  /**
   * Creates the holder; {@link #start()} gets the first ticket.
   *
   * @param issuer asks the name server for a ticket for a holder key
   * @param timer runs renewals
   */
  public PeerTickets(Function<ByteString, Mono<TicketIssued>> issuer, Scheduler timer) {
    this.issuer = Objects.requireNonNull(issuer, "issuer");
    this.timer = Objects.requireNonNull(timer, "timer");
  }

  /**
   * Makes the holder key (on {@link Schedulers#boundedElastic()}: it reads the random source) and
   * gets the first ticket; renewals follow by themselves until {@link #close()}.
   *
   * @return completes with the first ticket; fails as the name server refused it
   */
  public Mono<Void> start() {
    return Mono.fromCallable(Tickets::newKeyPair)
        .subscribeOn(Schedulers.boundedElastic())
        .doOnNext(key -> holder = key)
        .then(fetch());
  }

  /** Sets what is told of each renewed ticket, to pass it on to the open connections. */
  void onRenewed(Consumer<PeerTicket> listener) {
    this.onRenewed = Objects.requireNonNull(listener, "listener");
  }

  /** How many tickets the name server has issued to this mesh. */
  public long ticketsIssued() {
    return issued.get();
  }

  /** How many renewals failed (and were tried again). */
  public long failedRenewals() {
    return failedRenewals.get();
  }

  /** When this mesh's ticket expires, in milliseconds since the Unix epoch; 0 before the first. */
  public long expiresAtMillis() {
    Held held = current;
    return held == null ? 0 : held.claims().getExpiresAtMillis();
  }

  /**
   * Renews the ticket now, to learn the name server's current key, when a peer shows a ticket no
   * trusted key signed. One renewal at a time, and at most one a second asked for this way, so
   * peers cannot make this mesh flood its name server.
   *
   * @return completes when the renewal has ended, well or not (its failure is logged)
   */
  public Mono<Void> refresh() {
    return refresh(false);
  }

  /**
   * Renews the ticket now, however recent the last one: after the session moved to another node or
   * a restarted server, whose key may be new. One renewal at a time.
   *
   * @return completes when the renewal has ended, well or not (its failure is logged)
   */
  public Mono<Void> renewNow() {
    return refresh(true);
  }

  private Mono<Void> refresh(boolean evenIfRecent) {
    return Mono.defer(
        () -> {
          if (closed || holder == null) {
            return Mono.empty();
          }
          if (!evenIfRecent) {
            long now = System.nanoTime();
            long last = lastPeerRefreshNanos;
            if (now - last < REFRESH_INTERVAL.toNanos() && last != 0) {
              return Mono.empty();
            }
            lastPeerRefreshNanos = now;
          }
          Mono<Void> running = refreshing.get();
          if (running != null) {
            return running;
          }
          Mono<Void> fresh =
              fetch()
                  .onErrorResume(
                      error -> {
                        log.warn(
                            "Could not renew the peer ticket early: {}",
                            error instanceof SkymeshException
                                ? error.getMessage()
                                : error.toString());
                        return Mono.empty();
                      })
                  .doFinally(signal -> refreshing.set(null))
                  .cache();
          return refreshing.compareAndSet(null, fresh) ? fresh : Mono.empty();
        });
  }

  /** Stops renewing. */
  public void close() {
    closed = true;
    renewal.dispose();
  }

  /** The current ticket, or null before the first. */
  @Nullable PeerTicket ticket() {
    Held held = current;
    return held == null ? null : held.ticket();
  }

  /**
   * Adds this mesh's ticket and its proof for {@code audience} to a {@code Hello}; none before the
   * first ticket (the peer will then refuse the connection, saying why).
   */
  Hello.Builder present(Hello.Builder hello, String audience) {
    Held held = current;
    KeyPair key = holder;
    if (held != null && key != null) {
      hello
          .setTicket(held.ticket())
          .setProof(Tickets.prove(held.ticket(), hello.getProcessId(), audience, key.getPrivate()));
    }
    return hello;
  }

  /**
   * Checks a peer's {@code Hello}: a ticket signed by a trusted issuer, valid now, and a proof by
   * its holder for {@code audience}.
   *
   * @param audience this side: its listen address for a dialer's {@code Hello}, its process id for
   *     the answer to its own
   * @return the ticket's claims
   * @throws InvalidTicketException saying what does not hold
   */
  TicketClaims check(Hello hello, String audience) throws InvalidTicketException {
    if (!hello.hasTicket()) {
      throw new InvalidTicketException(
          "the peer sent no ticket, and this mesh requires one (MeshBuilder.requirePeerTickets)");
    }
    TicketClaims claims = Tickets.verify(hello.getTicket(), issuers);
    Tickets.checkValid(claims, System.currentTimeMillis());
    Tickets.checkProof(hello.getTicket(), claims, hello.getProcessId(), audience, hello.getProof());
    if (!hello.getAppId().isEmpty() && !hello.getAppId().equals(claims.getAppId())) {
      throw new InvalidTicketException(
          "the Hello says app "
              + hello.getAppId()
              + " but its ticket is for app "
              + claims.getAppId());
    }
    return claims;
  }

  /**
   * Checks a renewed ticket against the one it replaces: trusted, valid now, same app and holder.
   *
   * @return its claims
   * @throws InvalidTicketException saying what does not hold
   */
  TicketClaims checkRenewal(PeerTicket ticket, TicketClaims before) throws InvalidTicketException {
    TicketClaims claims = Tickets.verify(ticket, issuers);
    Tickets.checkValid(claims, System.currentTimeMillis());
    if (!claims.getAppId().equals(before.getAppId())
        || !claims.getHolderKey().equals(before.getHolderKey())) {
      throw new InvalidTicketException(
          "the renewed ticket is for app "
              + claims.getAppId()
              + " or another holder, not for the holder of app "
              + before.getAppId()
              + " that the connection authenticated");
    }
    return claims;
  }

  private Mono<Void> fetch() {
    return Mono.defer(
        () -> {
          KeyPair key = Objects.requireNonNull(holder, "holder");
          return issuer
              .apply(Tickets.encode(key.getPublic()))
              .flatMap(answer -> accept(answer, key).then());
        });
  }

  /** Checks a ticket from the name server, keeps it, trusts its issuer and plans its renewal. */
  private Mono<Held> accept(TicketIssued answer, KeyPair key) {
    TicketClaims claims;
    List<PublicKey> trusted;
    try {
      PublicKey issuerKey = Tickets.decodeKey(answer.getIssuerKey());
      trusted = new ArrayList<>(MAX_ISSUERS);
      trusted.add(issuerKey);
      for (PublicKey known : issuers) {
        if (trusted.size() < MAX_ISSUERS && !known.equals(issuerKey)) {
          trusted.add(known);
        }
      }
      claims = Tickets.verify(answer.getTicket(), List.of(issuerKey));
      if (!claims.getHolderKey().equals(Tickets.encode(key.getPublic()))) {
        throw new InvalidTicketException("the name server's ticket names another holder key");
      }
    } catch (InvalidTicketException e) {
      return Mono.error(
          Statuses.toException(
              StatusCode.UNAUTHENTICATED,
              "the name server sent a bad peer ticket: " + e.getMessage()));
    }
    Held held = new Held(answer.getTicket(), claims);
    issuers = List.copyOf(trusted);
    current = held;
    issued.incrementAndGet();
    long lifetime = Math.max(1, claims.getExpiresAtMillis() - claims.getIssuedAtMillis());
    renewIn(Duration.ofMillis(lifetime * 2 / 3), RETRY_MIN);
    onRenewed.accept(held.ticket());
    return Mono.just(held);
  }

  private void renewIn(Duration delay, Duration nextRetry) {
    if (closed) {
      return;
    }
    renewal.update(timer.schedule(() -> renew(nextRetry), delay.toNanos(), TimeUnit.NANOSECONDS));
  }

  private void renew(Duration retry) {
    if (closed) {
      return;
    }
    fetch()
        .subscribe(
            null,
            error -> {
              if (closed) {
                return;
              }
              failedRenewals.incrementAndGet();
              Held held = current;
              log.warn(
                  "Could not renew the peer ticket ({}); trying again in {} ms, it expires in {} ms",
                  error instanceof SkymeshException ? error.getMessage() : error.toString(),
                  retry.toMillis(),
                  held == null
                      ? 0
                      : held.claims().getExpiresAtMillis() - System.currentTimeMillis());
              Duration next = retry.multipliedBy(2);
              renewIn(retry, next.compareTo(RETRY_MAX) > 0 ? RETRY_MAX : next);
            });
  }
}
