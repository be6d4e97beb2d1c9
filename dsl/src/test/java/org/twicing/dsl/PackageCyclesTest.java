package org.twicing.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
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
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.ir.GraphBuilder;

/**
 * The packages of {@code org.twicing.dsl} depend on each other without a cycle (issue 14: {@code ir} held the
 * builder, which needed {@code ops}, which needs {@code ir}). Dependencies are read from the compiled classes'
 * constant pools, which name every class a class refers to (in code, field and method descriptors and generic
 * signatures), so an inline fully-qualified name counts as much as an import and Javadoc-only mentions do not.
 */
class PackageCyclesTest {
  private static final String ROOT = "org/twicing/dsl/";
  /** A class name inside a dsl package, as the constant pool spells it: the package, then the simple name. */
  private static final Pattern DSL_CLASS = Pattern.compile("org/twicing/dsl/([a-z0-9_]+)/([A-Za-z0-9_$]+)");

  @Test
  void dslPackagesDependOnEachOtherWithoutACycle() throws IOException {
    Map<String, Map<String, Set<String>>> deps = dependencies(classesRoot());
    List<String> cycle = findCycle(edges(deps));
    assertTrue(cycle.isEmpty(), () -> "package cycle in org.twicing.dsl: " + String.join(" -> ", cycle)
        + "; made by " + evidence(deps, cycle) + ". Move the shared contract to the lower package (as OpDef, "
        + "OpCall, GradCall and CoreOps live in ir) instead of reaching up.");
  }

  @Test
  void scannerSeesTheKnownDependencies() throws IOException {
    Map<String, Set<String>> edges = edges(dependencies(classesRoot()));
    // What the architecture says: ops and nn build on ir and types; ir builds on types only.
    assertTrue(edges.getOrDefault("ops", Set.of()).containsAll(Set.of("ir", "types", "eval")), edges::toString);
    assertTrue(edges.getOrDefault("nn", Set.of()).containsAll(Set.of("ir", "ops")), edges::toString);
    assertEquals(Set.of("types"), edges.get("ir"), edges::toString);
    assertFalse(edges.getOrDefault("types", Set.of()).contains("ir"), edges::toString);
  }

  @Test
  void cycleFinderReportsACycleAndOnlyACycle() {
    Map<String, Set<String>> cyclic = Map.of("a", Set.of("b"), "b", Set.of("c"), "c", Set.of("a"),
        "d", Set.of("a"));
    List<String> cycle = findCycle(cyclic);
    assertEquals(4, cycle.size(), cycle::toString);
    assertEquals(cycle.get(0), cycle.get(3), cycle::toString);
    assertEquals(Set.of("a", "b", "c"), new TreeSet<>(cycle), cycle::toString);
    assertEquals(List.of("x", "x"), findCycle(Map.of("x", Set.of("x"), "y", Set.of())));
    // A diamond shares targets without a cycle.
    assertEquals(List.of(), findCycle(Map.of("a", Set.of("b", "c"), "b", Set.of("d"), "c", Set.of("d"))));
  }

  /** The dsl module's compiled main classes (target/classes when Surefire runs in the reactor). */
  private static Path classesRoot() {
    try {
      Path root = Path.of(GraphBuilder.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (!Files.isDirectory(root.resolve(ROOT))) {
        throw new IllegalStateException("expected the dsl classes as a directory containing " + ROOT + ", got "
            + root);
      }
      return root;
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** For each dsl package, the other dsl packages it uses, each with the "Class -> Class" references that do. */
  static Map<String, Map<String, Set<String>>> dependencies(Path classesRoot) throws IOException {
    Map<String, Map<String, Set<String>>> deps = new TreeMap<>();
    List<Path> classFiles;
    try (Stream<Path> files = Files.walk(classesRoot.resolve(ROOT))) {
      classFiles = files.filter(p -> p.toString().endsWith(".class")).sorted().collect(Collectors.toList());
    }
    if (classFiles.isEmpty()) {
      throw new IllegalStateException("no class files under " + classesRoot.resolve(ROOT));
    }
    for (Path file : classFiles) {
      String rel = classesRoot.relativize(file).toString().replace('\\', '/');
      Matcher self = DSL_CLASS.matcher(rel);
      if (!self.lookingAt()) {
        continue; // a class directly in org.twicing.dsl belongs to no subpackage
      }
      String from = self.group(1);
      String fromClass = self.group(2);
      Map<String, Set<String>> out = deps.computeIfAbsent(from, k -> new TreeMap<>());
      for (String utf8 : constantPoolStrings(file)) {
        Matcher m = DSL_CLASS.matcher(utf8);
        while (m.find()) {
          if (!m.group(1).equals(from)) {
            out.computeIfAbsent(m.group(1), k -> new TreeSet<>()).add(fromClass + " -> " + m.group(2));
          }
        }
      }
    }
    return deps;
  }

  private static Map<String, Set<String>> edges(Map<String, Map<String, Set<String>>> deps) {
    Map<String, Set<String>> edges = new TreeMap<>();
    deps.forEach((from, to) -> edges.put(from, new TreeSet<>(to.keySet())));
    return edges;
  }

  private static String evidence(Map<String, Map<String, Set<String>>> deps, List<String> cycle) {
    List<String> parts = new ArrayList<>();
    for (int i = 0; i + 1 < cycle.size(); i++) {
      parts.add(cycle.get(i) + " -> " + cycle.get(i + 1) + " " + deps.get(cycle.get(i)).get(cycle.get(i + 1)));
    }
    return String.join("; ", parts);
  }

  /** One cycle of the graph as a closed path (first node repeated last), or an empty list when it is acyclic. */
  static List<String> findCycle(Map<String, Set<String>> graph) {
    Map<String, Integer> state = new TreeMap<>(); // absent: unvisited, 1: on the DFS path, 2: done
    List<String> path = new ArrayList<>();
    for (String start : new TreeSet<>(graph.keySet())) {
      List<String> cycle = visit(start, graph, state, path);
      if (!cycle.isEmpty()) {
        return cycle;
      }
    }
    return List.of();
  }

  private static List<String> visit(String node, Map<String, Set<String>> graph, Map<String, Integer> state,
      List<String> path) {
    Integer s = state.get(node);
    if (s != null && s == 2) {
      return List.of();
    }
    if (s != null) {
      List<String> cycle = new ArrayList<>(path.subList(path.indexOf(node), path.size()));
      cycle.add(node);
      return cycle;
    }
    state.put(node, 1);
    path.add(node);
    for (String next : new TreeSet<>(graph.getOrDefault(node, Set.of()))) {
      List<String> cycle = visit(next, graph, state, path);
      if (!cycle.isEmpty()) {
        return cycle;
      }
    }
    path.remove(path.size() - 1);
    state.put(node, 2);
    return List.of();
  }

  /** The UTF-8 entries of a class file's constant pool: class names, descriptors and signatures among them. */
  static List<String> constantPoolStrings(Path classFile) throws IOException {
    List<String> strings = new ArrayList<>();
    try (InputStream raw = Files.newInputStream(classFile); DataInputStream in = new DataInputStream(raw)) {
      if (in.readInt() != 0xCAFEBABE) {
        throw new IOException(classFile + " is not a class file (bad magic number)");
      }
      in.readUnsignedShort(); // minor version
      in.readUnsignedShort(); // major version
      int count = in.readUnsignedShort();
      for (int i = 1; i < count; i++) {
        int tag = in.readUnsignedByte();
        switch (tag) {
          case 1 -> strings.add(in.readUTF()); // Utf8: u2 length + modified UTF-8, as readUTF reads it
          case 7, 8, 16, 19, 20 -> in.skipNBytes(2); // Class, String, MethodType, Module, Package
          case 15 -> in.skipNBytes(3); // MethodHandle
          case 3, 4, 9, 10, 11, 12, 17, 18 -> in.skipNBytes(4); // Integer, Float, refs, NameAndType, (Invoke)Dynamic
          case 5, 6 -> {
            in.skipNBytes(8); // Long and Double take two slots
            i++;
          }
          default -> throw new IOException(classFile + ": unknown constant pool tag " + tag + " at entry " + i);
        }
      }
    }
    return strings;
  }
}
