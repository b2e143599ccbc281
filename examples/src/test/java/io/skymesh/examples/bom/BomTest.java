package io.skymesh.examples.bom;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * The {@code skymesh-bom} a user imports manages every library artifact of the build, at the
 * project's version, and nothing else: a module added to the build without its BOM entry fails
 * here. Reads the poms as the build does (the reactor root is this module's parent folder).
 */
class BomTest {

  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  @Test
  void theBomManagesEveryLibraryModuleAtTheProjectsVersionAndNothingElse() throws Exception {
    Element root = pom(ROOT.resolve("pom.xml"));
    String projectVersion = child(root, "version");
    TreeSet<String> libraries = new TreeSet<>();
    for (String module : children(childElement(root, "modules"), "module")) {
      String artifactId = child(pom(ROOT.resolve(module).resolve("pom.xml")), "artifactId");
      if (!artifactId.equals("skymesh-bom")
          && !artifactId.equals("skymesh-benchmarks")
          && !artifactId.startsWith("skymesh-examples")) {
        libraries.add(artifactId);
      }
    }

    Element bom = pom(ROOT.resolve("bom").resolve("pom.xml"));
    assertThat(childElement(bom, "parent"))
        .as("the BOM has no parent, so importing it manages Skymesh's artifacts only")
        .isNull();
    assertThat(child(bom, "version")).isEqualTo(projectVersion);
    Map<String, String> managed = new TreeMap<>();
    Element dependencies = childElement(childElement(bom, "dependencyManagement"), "dependencies");
    for (Element dependency : elements(dependencies, "dependency")) {
      assertThat(child(dependency, "groupId")).isEqualTo("io.skymesh");
      managed.put(child(dependency, "artifactId"), child(dependency, "version"));
    }
    assertThat(managed.keySet()).containsExactlyElementsOf(libraries);
    assertThat(managed.values()).containsOnly("${project.version}");
  }

  private static Element pom(Path file) throws Exception {
    assertThat(file).exists();
    Document document =
        DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Files.newInputStream(file));
    return document.getDocumentElement();
  }

  private static Element childElement(Element parent, String name) {
    for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
      if (node instanceof Element element && element.getTagName().equals(name)) {
        return element;
      }
    }
    return null;
  }

  private static String child(Element parent, String name) {
    Element element = childElement(parent, name);
    assertThat(element).as("<%s> in <%s>", name, parent.getTagName()).isNotNull();
    return element.getTextContent().trim();
  }

  private static List<Element> elements(Element parent, String name) {
    List<Element> found = new ArrayList<>();
    for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
      if (node instanceof Element element && element.getTagName().equals(name)) {
        found.add(element);
      }
    }
    return found;
  }

  private static List<String> children(Element parent, String name) {
    return elements(parent, name).stream().map(e -> e.getTextContent().trim()).toList();
  }
}
