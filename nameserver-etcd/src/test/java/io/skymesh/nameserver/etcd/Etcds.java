package io.skymesh.nameserver.etcd;

import io.etcd.jetcd.Client;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.proto.Instance;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Test helpers: stores (name-server nodes' state) over a test etcd. */
final class Etcds {

  static final Duration TIMEOUT = Duration.ofSeconds(30);

  private Etcds() {}

  static NameStore open(String endpoints) {
    return new EtcdNameStoreProvider().open(endpoints).block(TIMEOUT);
  }

  static List<NameStore> open(String endpoints, int nodes) {
    List<NameStore> stores = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      stores.add(open(endpoints));
    }
    return stores;
  }

  static void closeAll(List<NameStore> stores) {
    for (NameStore store : stores) {
      store.close().block(TIMEOUT);
    }
  }

  /** A plain client for what tests do to etcd directly (compaction, revoking a lease). */
  static Client client(String endpoints) {
    return Client.builder().endpoints(endpoints.split(",")).build();
  }

  static Instance instance(String url) {
    return Instance.newBuilder().setUrl(url).setAddress("127.0.0.1:7000").setWeight(1).build();
  }
}
