package io.skymesh.mesh.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The layout of the internal packages, read from the main sources: the root package ({@code
 * DefaultMesh} and its wiring) depends on its sub-packages and never the other way round, and the
 * sub-packages depend on each other without cycles (transport at the bottom, then the data plane,
 * then request / response).
 */
class PackageRulesTest {

  private static final Path SOURCES = Path.of("src/main/java");
  private static final String INTERNAL = "io.skymesh.mesh.internal";
  private static final Pattern REFERENCE =
      Pattern.compile("\\bio\\.skymesh\\.mesh\\.internal\\.([A-Za-z_]\\w*)");

  @Test
  void noSubPackageUsesTheInternalRoot() {
    List<String> violations = new ArrayList<>();
    scan(
        (pkg, file, target) -> {
          if (!pkg.isEmpty() && Character.isUpperCase(target.charAt(0))) {
            violations.add(file + " uses " + INTERNAL + "." + target);
          }
        });
    assertThat(violations).isEmpty();
  }

  @Test
  void theInternalPackagesHaveNoCycles() {
    Map<String, Set<String>> graph = new TreeMap<>();
    scan(
        (pkg, file, target) -> {
          graph.computeIfAbsent(pkg, p -> new TreeSet<>());
          String to = Character.isUpperCase(target.charAt(0)) ? "" : target;
          if (!to.equals(pkg)) {
            graph.get(pkg).add(to);
          }
        });
    assertThat(graph).as("the scan found the packages").containsKeys("", "peer", "rpc");
    assertThat(graph.get("transport")).as("transport depends on no other mesh package").isEmpty();
    assertThat(graph.get("rpc")).as("rpc").doesNotContain("");
    assertThat(graph.get("peer")).as("the data plane").doesNotContain("", "rpc");
    List<String> cycles = new ArrayList<>();
    for (String start : graph.keySet()) {
      findCycle(graph, start, new ArrayList<>(), cycles);
    }
    assertThat(cycles).as("cycles between internal packages (root is \"\")").isEmpty();
  }

  private static void findCycle(
      Map<String, Set<String>> graph, String node, List<String> path, List<String> cycles) {
    if (path.contains(node)) {
      if (node.equals(path.get(0))) {
        cycles.add(String.join(" -> ", path) + " -> " + node);
      }
      return;
    }
    path.add(node);
    for (String next : graph.getOrDefault(node, Set.of())) {
      findCycle(graph, next, path, cycles);
    }
    path.remove(path.size() - 1);
  }

  /** What one source file of an internal package refers to in another internal package. */
  private interface Visitor {
    /**
     * @param pkg the file's package below {@code internal} ("" for the root, else its first part)
     * @param file the file
     * @param target a referenced root class, or the first part of a referenced sub-package
     */
    void visit(String pkg, Path file, String target);
  }

  private static void scan(Visitor visitor) {
    Path root = SOURCES.resolve(INTERNAL.replace('.', '/'));
    assertThat(root).isDirectory();
    try (Stream<Path> files = Files.walk(root)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        Path relative = root.relativize(file.getParent());
        String pkg = relative.toString().isEmpty() ? "" : relative.getName(0).toString();
        Matcher references = REFERENCE.matcher(Files.readString(file));
        while (references.find()) {
          visitor.visit(pkg, file, references.group(1));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
