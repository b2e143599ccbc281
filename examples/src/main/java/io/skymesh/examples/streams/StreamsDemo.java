package io.skymesh.examples.streams;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Runs streams in one process: an embedded name server, a market mesh serving an endless price
 * ticker ({@code addStream}) and a chat that shouts back ({@code addChannel}), and a trader mesh
 * that reads prices ten at a time and chats. The ticker produces only what the trader asked for,
 * plus one window of credit.
 */
public final class StreamsDemo {

  /** The market service. */
  public static final ServiceUrl MARKET = ServiceUrl.parse("demo.local.market/1");

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private StreamsDemo() {}

  /**
   * What the demo saw.
   *
   * @param prices the prices the trader read
   * @param produced the prices the ticker produced for them
   * @param shouted the chat's replies
   */
  public record Report(List<String> prices, long produced, List<String> shouted) {}

  /**
   * Runs the demo, printing what happens.
   *
   * @param args optionally the number of prices to read
   */
  public static void main(String[] args) {
    run(args.length > 0 ? Integer.parseInt(args[0]) : 30, System.out::println);
  }

  /**
   * Runs the demo.
   *
   * @param count how many prices the trader reads
   * @param out where to print what happens
   * @return what it saw
   */
  public static Report run(int count, Consumer<String> out) {
    NameServer nameServer = NameServer.builder().port(0).start().block(TIMEOUT);
    String address = "127.0.0.1:" + nameServer.port();
    Mesh market = Mesh.builder("demo").nameServer(address).start().block(TIMEOUT);
    Mesh trading = Mesh.builder("demo").nameServer(address).start().block(TIMEOUT);
    try {
      AtomicLong produced = new AtomicLong();
      Methods methods =
          Methods.builder()
              // Endless: Flux.generate makes a price only when the trader's demand (credit on
              // the wire) asks for one.
              .addStream(
                  "Ticker",
                  request ->
                      Flux.generate(
                          sink -> {
                            long n = produced.incrementAndGet();
                            sink.next(
                                Reply.of(
                                    ByteString.copyFromUtf8(
                                        request.payload().toStringUtf8()
                                            + " "
                                            + (100 + n % 7)
                                            + "."
                                            + n % 100)));
                          }))
              .addChannel(
                  "Chat",
                  lines ->
                      lines.map(
                          line ->
                              Reply.of(
                                  ByteString.copyFromUtf8(
                                      line.payload().toStringUtf8().toUpperCase() + "!"))))
              .build();
      market
          .register(MARKET, message -> Mono.empty(), ServiceOptions.defaults().withMethods(methods))
          .block(TIMEOUT);
      MeshService trader =
          trading
              .register(ServiceUrl.parse("demo.local.trader/1"), message -> Mono.empty())
              .block(TIMEOUT);

      List<String> prices =
          trader
              .requestStream(MARKET, "Ticker", ByteString.copyFromUtf8("ACME"))
              .map(reply -> reply.payload().toStringUtf8())
              .limitRate(10)
              .take(count)
              .doOnNext(price -> out.accept("trader read " + price))
              .collectList()
              .block(TIMEOUT);
      out.accept(
          "the ticker produced "
              + produced.get()
              + " prices for the "
              + count
              + " read (at most one window of 256 ahead)");

      List<String> shouted =
          trader
              .requestChannel(
                  MARKET,
                  "Chat",
                  Flux.just("hello", "any bids?", "bye").map(ByteString::copyFromUtf8))
              .map(reply -> reply.payload().toStringUtf8())
              .doOnNext(line -> out.accept("chat: " + line))
              .collectList()
              .block(TIMEOUT);
      return new Report(prices, produced.get(), shouted);
    } finally {
      trading.close().block(TIMEOUT);
      market.close().block(TIMEOUT);
      nameServer.closeNow(TIMEOUT);
    }
  }
}
