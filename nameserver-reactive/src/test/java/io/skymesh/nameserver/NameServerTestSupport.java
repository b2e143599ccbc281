package io.skymesh.nameserver;

import io.skymesh.proto.Instance;
import io.skymesh.proto.Leader;
import io.skymesh.proto.WatchEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;

/** Starts name servers on 127.0.0.1 port 0 and closes them and their clients after each test. */
abstract class NameServerTestSupport {

  static final java.time.Duration TIMEOUT = TestClient.TIMEOUT;

  private final List<TestClient> clients = new ArrayList<>();
  private final List<NameServer> servers = new ArrayList<>();

  NameServer start() {
    return start(UnaryOperator.identity());
  }

  /** Starts a server whose revisions count from 1, so tests can name them. */
  NameServer start(UnaryOperator<NameServerBuilder> configure) {
    NameServer server =
        configure.apply(NameServer.builder().initialRevision(0)).start().block(TIMEOUT);
    servers.add(server);
    return server;
  }

  TestClient connect(NameServer server) {
    return track(TestClient.connect(server.port()));
  }

  TestClient open(NameServer server, String appId) {
    return track(TestClient.open(server.port(), appId));
  }

  TestClient track(TestClient client) {
    clients.add(client);
    return client;
  }

  @AfterEach
  void closeEverything() {
    clients.forEach(TestClient::close);
    servers.forEach(server -> server.closeNow(TIMEOUT));
  }

  /** What a watcher knows, built by applying its events in order. */
  static final class View {
    final Map<String, Instance> instances = new TreeMap<>();
    final Map<String, Leader> leaders = new TreeMap<>();
    long revision;
    int snapshots;
    int resyncs;

    void apply(WatchEvent event) {
      switch (event.getEventCase()) {
        case SNAPSHOT -> {
          instances.clear();
          leaders.clear();
          event.getSnapshot().getInstancesList().forEach(i -> instances.put(i.getUrl(), i));
          event.getSnapshot().getLeadersList().forEach(l -> leaders.put(l.getServiceName(), l));
          snapshots++;
          if (event.getSnapshot().getResync()) {
            resyncs++;
          }
        }
        case INSTANCE_ADDED ->
            instances.put(event.getInstanceAdded().getUrl(), event.getInstanceAdded());
        case INSTANCE_UPDATED ->
            instances.put(event.getInstanceUpdated().getUrl(), event.getInstanceUpdated());
        case INSTANCE_REMOVED -> instances.remove(event.getInstanceRemoved().getUrl());
        case LEADER_CHANGED ->
            leaders.put(event.getLeaderChanged().getServiceName(), event.getLeaderChanged());
        default -> throw new AssertionError("unexpected event " + event);
      }
      revision = event.getRevision();
    }
  }
}
