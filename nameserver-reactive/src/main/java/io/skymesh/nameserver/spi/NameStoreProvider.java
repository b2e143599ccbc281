package io.skymesh.nameserver.spi;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import reactor.core.publisher.Mono;

/**
 * Creates {@link NameStore}s of one kind, found with {@link ServiceLoader} under {@code
 * META-INF/services/io.skymesh.nameserver.spi.NameStoreProvider}; {@code serve --etcd URLS} looks
 * up the provider named {@code "etcd"}. Implementations need a public no-argument constructor.
 */
public interface NameStoreProvider {

  /**
   * The name the store is chosen by, for example {@code "etcd"}.
   *
   * @return the name
   */
  String name();

  /**
   * Opens a store when subscribed: connects, checks it is usable, and fails with a clear message if
   * not (for example etcd unreachable). Must not block the subscribing thread.
   *
   * @param target where the store is, in the provider's syntax (etcd: comma-separated endpoint urls
   *     such as {@code http://127.0.0.1:2379,http://127.0.0.1:22379})
   * @return the open store, which the name server using it closes when it closes
   */
  Mono<NameStore> open(String target);

  /**
   * The settings this provider reads beside its target, for example etcd's TLS files; {@code serve}
   * offers each as an option {@code --NAME VALUE}.
   *
   * @return the settings, none by default
   */
  default List<Setting> settings() {
    return List.of();
  }

  /**
   * As {@link #open(String)}, with values for some of the {@link #settings()}.
   *
   * @param target where the store is, in the provider's syntax
   * @param settings values by {@link Setting#name()}; those not given keep their defaults
   * @return the open store
   * @throws IllegalArgumentException naming a setting this provider does not read, or a bad value
   */
  default Mono<NameStore> open(String target, Map<String, String> settings) {
    if (!settings.isEmpty()) {
      throw new IllegalArgumentException(
          name() + " store: no setting " + settings.keySet() + " (expected: none)");
    }
    return open(target);
  }

  /**
   * A setting a provider reads beside its target.
   *
   * @param name the setting's name, offered on the command line as {@code --NAME}, for example
   *     {@code etcd-ca}
   * @param label what the value is, for help texts, for example {@code PEM}
   * @param description one or two sentences for help texts
   */
  record Setting(String name, String label, String description) {}

  /**
   * The provider named {@code name} on the class path of {@code loader}, if any.
   *
   * @param name the provider's {@link #name()}
   * @param loader the class loader to search
   * @return the first provider of that name
   */
  static Optional<NameStoreProvider> find(String name, ClassLoader loader) {
    for (NameStoreProvider provider : ServiceLoader.load(NameStoreProvider.class, loader)) {
      if (provider.name().equals(name)) {
        return Optional.of(provider);
      }
    }
    return Optional.empty();
  }
}
