package io.skymesh.nameserver;

import com.google.protobuf.ByteString;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Campaign;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.KeepAlive;
import io.skymesh.proto.KvDelete;
import io.skymesh.proto.KvGet;
import io.skymesh.proto.KvGetResult;
import io.skymesh.proto.KvList;
import io.skymesh.proto.KvPut;
import io.skymesh.proto.KvWatch;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Register;
import io.skymesh.proto.Resign;
import io.skymesh.proto.SessionOpened;
import io.skymesh.proto.SetAttributes;
import io.skymesh.proto.Status;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.Map;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.Connection;

/**
 * A name-server protocol client for tests, over the shared {@link NameServerConnection}: every
 * frame received is replayed to late subscribers, answers come as the frames they are (Ack or
 * Error), and reading can be paused, to play a slow watcher.
 */
final class TestClient implements AutoCloseable {

  static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final NameServerConnection connection;
  private final Sinks.Many<NameServerFrame> received;
  private final Sinks.Many<NameServerFrame> events;
  private volatile Disposable keepAlives;

  private TestClient(
      NameServerConnection connection,
      Sinks.Many<NameServerFrame> received,
      Sinks.Many<NameServerFrame> events) {
    this.connection = connection;
    this.received = received;
    this.events = events;
    // Signalled on the event loop after the last frame, like the frames themselves.
    connection
        .onClose()
        .subscribe(
            null,
            error -> {
              received.tryEmitComplete();
              events.tryEmitComplete();
            },
            () -> {
              received.tryEmitComplete();
              events.tryEmitComplete();
            });
  }

  static TestClient connect(int port) {
    return connect(port, 0);
  }

  /** Connects; a receive buffer > 0 makes the socket's buffer that small, to fill it quickly. */
  static TestClient connect(int port, int receiveBuffer) {
    Sinks.Many<NameServerFrame> received = Sinks.many().replay().all();
    Sinks.Many<NameServerFrame> events = Sinks.many().replay().all();
    NameServerConnection connection =
        NameServerConnection.builder("127.0.0.1", port)
            .receiveBufferSize(receiveBuffer)
            // Every frame as it came, snapshot parts included.
            .frameObserver(received::tryEmitNext)
            // The events as the connection hands them over: snapshots whole.
            .onEvent(events::tryEmitNext)
            .connect()
            .block(TIMEOUT);
    return new TestClient(connection, received, events);
  }

  /** Connects and opens a session for {@code appId}. */
  static TestClient open(int port, String appId) {
    TestClient client = connect(port);
    client.openSession(appId, 0).block(TIMEOUT);
    return client;
  }

  /** The Reactor Netty connection underneath, to write raw bytes or cut the connection. */
  Connection connection() {
    return connection.connection();
  }

  /** Every frame received, from the first; completes when the connection closes. */
  Flux<NameServerFrame> frames() {
    return received.asFlux();
  }

  /** The events of one watch, from the first. */
  Flux<WatchEvent> events(long watchId) {
    return events
        .asFlux()
        .filter(f -> f.hasWatchEvent() && f.getWatchEvent().getWatchId() == watchId)
        .map(NameServerFrame::getWatchEvent);
  }

  /** Sends a request with the next request id; gives its answer (Ack or Error). */
  Mono<NameServerFrame> call(NameClientFrame.Builder request) {
    return connection.exchange(request);
  }

  /** Sends a request and expects an Ack. */
  Mono<Ack> ack(NameClientFrame.Builder request) {
    return call(request)
        .map(
            answer -> {
              if (!answer.hasAck()) {
                throw new AssertionError("expected an Ack, got " + answer);
              }
              return answer.getAck();
            });
  }

  /** Sends a request and expects an Error. */
  Mono<Status> error(NameClientFrame.Builder request) {
    return call(request)
        .map(
            answer -> {
              if (!answer.hasError()) {
                throw new AssertionError("expected an Error, got " + answer);
              }
              return answer.getError().getStatus();
            });
  }

  /** Sends one frame as it is. */
  Mono<Void> send(NameClientFrame frame) {
    return connection.connection().outbound().sendObject(frame).then();
  }

  Mono<SessionOpened> openSession(String appId, int ttlMillis) {
    return ack(NameClientFrame.newBuilder()
            .setOpenSession(
                OpenSession.newBuilder()
                    .setProtocolVersion(1)
                    .setAppId(appId)
                    .setTtlMillis(ttlMillis)))
        .map(Ack::getSessionOpened);
  }

  Mono<Ack> keepAlive() {
    return ack(NameClientFrame.newBuilder().setKeepAlive(KeepAlive.getDefaultInstance()));
  }

  Mono<Ack> register(String url, String address) {
    return ack(register(url, address, Map.of()));
  }

  static NameClientFrame.Builder register(String url, String address, Map<String, String> attrs) {
    return NameClientFrame.newBuilder()
        .setRegister(
            Register.newBuilder()
                .setInstance(
                    Instance.newBuilder()
                        .setUrl(url)
                        .setAddress(address)
                        .setProcessId("p1")
                        .putAllAttributes(attrs)));
  }

  Mono<Ack> deregister(String url) {
    return ack(NameClientFrame.newBuilder().setDeregister(Deregister.newBuilder().setUrl(url)));
  }

  static NameClientFrame.Builder setAttributes(
      String url, Map<String, String> attributes, boolean merge) {
    return NameClientFrame.newBuilder()
        .setSetAttributes(
            SetAttributes.newBuilder().setUrl(url).putAllAttributes(attributes).setMerge(merge));
  }

  Mono<Ack> watchService(long watchId, String serviceName, long fromRevision) {
    return ack(
        NameClientFrame.newBuilder()
            .setWatch(
                Watch.newBuilder()
                    .setWatchId(watchId)
                    .setServiceName(serviceName)
                    .setFromRevision(fromRevision)));
  }

  Mono<Ack> watchPrefix(long watchId, String prefix, long fromRevision) {
    return ack(
        NameClientFrame.newBuilder()
            .setWatch(
                Watch.newBuilder()
                    .setWatchId(watchId)
                    .setPrefix(prefix)
                    .setFromRevision(fromRevision)));
  }

  /** The events of one KV watch, from the first. */
  Flux<KvWatchEvent> kvEvents(long watchId) {
    return events
        .asFlux()
        .filter(f -> f.hasKvWatchEvent() && f.getKvWatchEvent().getWatchId() == watchId)
        .map(NameServerFrame::getKvWatchEvent);
  }

  static NameClientFrame.Builder campaign(String url) {
    return NameClientFrame.newBuilder().setCampaign(Campaign.newBuilder().setUrl(url));
  }

  static NameClientFrame.Builder resign(String url) {
    return NameClientFrame.newBuilder().setResign(Resign.newBuilder().setUrl(url));
  }

  static NameClientFrame.Builder kvPut(String key, String value) {
    return NameClientFrame.newBuilder()
        .setKvPut(KvPut.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)));
  }

  static NameClientFrame.Builder kvPut(String key, String value, long expectedModRevision) {
    NameClientFrame.Builder put = kvPut(key, value);
    put.getKvPutBuilder().setExpectedModRevision(expectedModRevision);
    return put;
  }

  static NameClientFrame.Builder kvGet(String key) {
    return NameClientFrame.newBuilder().setKvGet(KvGet.newBuilder().setKey(key));
  }

  static NameClientFrame.Builder kvDelete(String key, boolean prefix) {
    return NameClientFrame.newBuilder()
        .setKvDelete(KvDelete.newBuilder().setKey(key).setPrefix(prefix));
  }

  static NameClientFrame.Builder kvList(String prefix) {
    return NameClientFrame.newBuilder().setKvList(KvList.newBuilder().setPrefix(prefix));
  }

  static NameClientFrame.Builder kvWatch(long watchId, String prefix, long fromRevision) {
    return NameClientFrame.newBuilder()
        .setKvWatch(
            KvWatch.newBuilder()
                .setWatchId(watchId)
                .setPrefix(prefix)
                .setFromRevision(fromRevision));
  }

  /** Puts a value; gives the revision of the write. */
  long put(String key, String value) {
    return ack(kvPut(key, value)).block(TIMEOUT).getRevision();
  }

  KvGetResult get(String key) {
    return ack(kvGet(key)).block(TIMEOUT).getKvGet();
  }

  /**
   * Sends a KeepAlive every {@code period} until the client is closed, each given up when the next
   * is due, so that one unanswered KeepAlive never stops the ones after it.
   */
  TestClient keepAliveEvery(Duration period) {
    keepAlives =
        Flux.interval(period)
            .onBackpressureDrop()
            .concatMap(
                tick ->
                    connection
                        .request(
                            NameClientFrame.newBuilder()
                                .setKeepAlive(KeepAlive.getDefaultInstance()),
                            "a keepalive",
                            period)
                        .onErrorResume(e -> Mono.empty()),
                1)
            .subscribe();
    return this;
  }

  /** Stops reading: the server's writes back up into the socket and then its queue. */
  void pauseReading() {
    connection.pauseReading();
  }

  void resumeReading() {
    connection.resumeReading();
  }

  @Override
  public void close() {
    if (keepAlives != null) {
      keepAlives.dispose();
    }
    connection.close().block(TIMEOUT);
  }
}
