package io.skymesh.examples.kvconfig;

import com.google.protobuf.ByteString;
import io.skymesh.mesh.ConfigChange;
import io.skymesh.mesh.ConfigStore;
import io.skymesh.mesh.Mesh;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Runs kv-config in one process: an embedded name server; an operator mesh that writes settings and
 * a route table under {@code kvdemo/}; a game mesh that watches {@code kvdemo/} and reads typed
 * settings with defaults; and both bumping one counter with compare-and-set, which never loses an
 * increment.
 */
public final class KvConfigDemo {

  /** The prefix every key of the demo lives under. */
  public static final String PREFIX = "kvdemo/";

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private KvConfigDemo() {}

  /**
   * What the demo saw.
   *
   * @param maxPlayers the typed setting read, with its default if unset
   * @param timeout the duration setting read
   * @param motd the default of a missing key
   * @param counter the counter's final value
   * @param watched the changes the game's watch reported, as "TYPE key=value"
   * @param routeLeftAfterDelete the keys under kvdemo/route after deleting kvdemo/route
   */
  public record Report(
      int maxPlayers,
      Duration timeout,
      String motd,
      long counter,
      List<String> watched,
      List<String> routeLeftAfterDelete) {}

  /**
   * Runs the demo, printing what happens.
   *
   * @param args optionally the number of increments per process
   */
  public static void main(String[] args) {
    run(args.length > 0 ? Integer.parseInt(args[0]) : 20, System.out::println);
  }

  /**
   * Runs the demo.
   *
   * @param increments how many times each of the two processes bumps the counter
   * @param out where to print what happens
   * @return what it saw
   */
  public static Report run(int increments, Consumer<String> out) {
    NameServer nameServer = NameServer.builder().port(0).start().block(TIMEOUT);
    String address = "127.0.0.1:" + nameServer.port();
    List<Mesh> meshes = new ArrayList<>();
    try {
      ConfigStore ops = mesh(address, meshes, "ops").config();
      ConfigStore game = mesh(address, meshes, "game").config();

      ops.put(PREFIX + "max-players", "250").block(TIMEOUT);
      List<String> watched = new ArrayList<>();
      // The watch starts with what exists, then follows every change.
      Flux<ConfigChange> changes = game.watch(PREFIX).cache();
      changes.subscribe(
          change -> {
            String line = change.type() + " " + change.key() + "=" + change.stringValue();
            out.accept("game watch @" + change.revision() + ": " + line);
            synchronized (watched) {
              watched.add(line);
            }
          });
      changes.next().block(TIMEOUT);

      ops.put(PREFIX + "timeout", "1500ms").block(TIMEOUT);
      ops.put(PREFIX + "route", "zone1").block(TIMEOUT);
      ops.put(PREFIX + "route/backup", "zone2").block(TIMEOUT);
      ops.put(PREFIX + "counter", "0").block(TIMEOUT);
      int maxPlayers = game.getInt(PREFIX + "max-players", 100).block(TIMEOUT);
      Duration timeout = game.getDuration(PREFIX + "timeout", Duration.ofSeconds(5)).block(TIMEOUT);
      String motd = game.getString(PREFIX + "motd", "welcome").block(TIMEOUT);
      out.accept("game reads max-players=" + maxPlayers + " timeout=" + timeout + " motd=" + motd);

      // Two processes bump one counter; compare-and-set retries the losers, so none is lost.
      Flux.merge(bump(ops, increments), bump(game, increments)).blockLast(TIMEOUT);
      long counter = game.getLong(PREFIX + "counter", -1).block(TIMEOUT);
      out.accept("counter after 2 x " + increments + " compare-and-set increments: " + counter);

      // Deleting one key never deletes the keys it prefixes.
      ops.delete(PREFIX + "route").block(TIMEOUT);
      List<String> routeLeft =
          game.list(PREFIX + "route").block(TIMEOUT).stream().map(e -> e.key()).toList();
      out.accept("after delete(" + PREFIX + "route): " + routeLeft);

      ops.put(PREFIX + "huge", ByteString.copyFrom(new byte[2 << 20]))
          .doOnError(e -> out.accept("a 2 MiB value is refused: " + e.getMessage()))
          .onErrorResume(e -> Mono.empty())
          .block(TIMEOUT);

      long last = ops.put(PREFIX + "done", "yes").block(TIMEOUT);
      changes.filter(change -> change.revision() == last).next().block(TIMEOUT);
      synchronized (watched) {
        return new Report(maxPlayers, timeout, motd, counter, List.copyOf(watched), routeLeft);
      }
    } finally {
      meshes.forEach(mesh -> mesh.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT));
      nameServer.closeNow(TIMEOUT);
    }
  }

  /**
   * Adds one to the counter {@code times} times, each with a compare-and-set retried on conflict.
   */
  private static Flux<Boolean> bump(ConfigStore config, int times) {
    String key = PREFIX + "counter";
    Mono<Boolean> once =
        config
            .get(key)
            .flatMap(
                entry ->
                    config.compareAndSet(
                        key,
                        entry.modRevision(),
                        ByteString.copyFromUtf8(
                            Long.toString(Long.parseLong(entry.stringValue()) + 1))))
            .filter(Boolean::booleanValue)
            .repeatWhenEmpty(Integer.MAX_VALUE, attempts -> attempts);
    return Flux.range(0, times).concatMap(i -> once);
  }

  private static Mesh mesh(String nameServer, List<Mesh> meshes, String appId) {
    Mesh mesh = Mesh.builder(appId).nameServer(nameServer).start().block(TIMEOUT);
    meshes.add(mesh);
    return mesh;
  }
}
