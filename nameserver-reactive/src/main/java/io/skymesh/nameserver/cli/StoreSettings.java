package io.skymesh.nameserver.cli;

import io.skymesh.nameserver.spi.NameStoreProvider;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The settings of the stores on the class path as {@code serve} options: each {@link
 * NameStoreProvider#settings() setting} {@code NAME} becomes {@code --NAME VALUE}, added to the
 * command's model as picocli builds it, so that a store brings its own options (etcd's TLS files,
 * say) and they show in {@code serve --help} only when the store is there.
 */
final class StoreSettings implements CommandLine.IModelTransformer {

  /** Created by picocli for the {@code serve} command. */
  StoreSettings() {}

  @Override
  public CommandSpec transform(CommandSpec spec) {
    for (NameStoreProvider provider : providers()) {
      for (NameStoreProvider.Setting setting : provider.settings()) {
        String name = "--" + setting.name();
        if (spec.findOption(name) == null) {
          spec.addOption(
              OptionSpec.builder(name)
                  .paramLabel(setting.label())
                  .description(setting.description())
                  .type(String.class)
                  .build());
        }
      }
    }
    return spec;
  }

  /**
   * The values given on the command line for {@code provider}'s settings, by setting name.
   *
   * @param spec the parsed {@code serve} command
   * @param provider the store chosen
   * @return the values given; the rest keep their defaults
   */
  static Map<String, String> of(CommandSpec spec, NameStoreProvider provider) {
    Map<String, String> values = new LinkedHashMap<>();
    for (NameStoreProvider.Setting setting : provider.settings()) {
      OptionSpec option = spec.findOption("--" + setting.name());
      if (option != null && option.getValue() != null) {
        values.put(setting.name(), option.getValue());
      }
    }
    return values;
  }

  /**
   * Fails when a store's setting was given but no store is chosen.
   *
   * @param spec the parsed {@code serve} command
   * @param choice the option that chooses a store, for the message, for example {@code --etcd}
   * @throws IllegalArgumentException naming the settings given
   */
  static void requireNone(CommandSpec spec, String choice) {
    List<String> given = new ArrayList<>();
    for (NameStoreProvider provider : providers()) {
      of(spec, provider).keySet().forEach(name -> given.add("--" + name));
    }
    if (!given.isEmpty()) {
      throw new IllegalArgumentException(String.join(", ", given) + ": only with " + choice);
    }
  }

  private static Iterable<NameStoreProvider> providers() {
    return ServiceLoader.load(NameStoreProvider.class, StoreSettings.class.getClassLoader());
  }
}
