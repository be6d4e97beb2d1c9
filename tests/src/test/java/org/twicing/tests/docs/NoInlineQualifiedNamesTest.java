package org.twicing.tests.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * No Java source in the repository spells a type by its fully-qualified name inside code: types are imported, so a
 * reader sees a file's dependencies in its imports. Import and package lines, comments (Javadoc {@code {@link}}s
 * included) and string literals are not code. A qualified name is kept only where the simple name would clash with
 * another type the file uses; those places are listed in {@link #CLASHES}.
 */
class NoInlineQualifiedNamesTest {
  /** The repository root, relative to the tests module (Surefire's working directory). */
  private static final Path ROOT = Path.of("..");

  /** Folders never scanned: build outputs, dependencies, version control, run outputs. */
  private static final Set<String> PRUNED = Set.of("target", "node_modules", ".git", "runs", "out", "V");

  /**
   * A package path ending in a type: lower-case segments from a known top-level package, then an upper-case
   * segment. Only top-level package names are matched, so member chains like {@code cfg.schedule.LINEAR} are not.
   */
  private static final Pattern QUALIFIED = Pattern.compile("(?<![\\w.$@])"
      + "(?:java|javax|jdk|org|com|ai|onnx|picocli|io|net|sun|scala|kotlin)(?:\\.[a-z_][a-z0-9_]*)*\\.[A-Z][\\w$]*");

  /**
   * Qualified names that stay because the simple name clashes, by file (relative to the repository root); every
   * entry must still occur, so the list cannot outlive the code.
   */
  private static final Map<String, Set<String>> CLASHES = Map.of(
      // Our ModelProto (org.twicing.codegen.onnx.OnnxProtos.ModelProto) is imported; the checker's is bytedeco's.
      "tests/src/test/java/org/twicing/tests/support/OnnxChecker.java", Set.of("org.bytedeco.onnx.ModelProto"));

  /**
   * Qualified names in files another change was rewriting when this test was written, by file; unlike
   * {@link #CLASHES} these are not clashes, just not yet imported.
   */
  private static final Map<String, Set<String>> PENDING = Map.of();

  /** A qualified type name inside code: the file, its 1-based line, and the name. */
  record Finding(String file, int line, String name) {
    @Override
    public String toString() {
      return file + ":" + line + ": " + name;
    }
  }

  /** Every main and test source of every module has no inline qualified type name outside the allow-lists. */
  @Test
  void sourcesImportTypesInsteadOfQualifyingThem() throws IOException {
    List<Path> sources = javaSources(ROOT);
    assertTrue(sources.size() > 300, "expected the modules' Java sources under " + ROOT.toAbsolutePath().normalize()
        + ", found " + sources.size());
    List<Finding> bad = new ArrayList<>();
    Set<String> clashesSeen = new TreeSet<>();
    for (Path f : sources) {
      String rel = ROOT.relativize(f).toString().replace('\\', '/');
      Set<String> allowed = CLASHES.getOrDefault(rel, Set.of());
      Set<String> pending = PENDING.getOrDefault(rel, Set.of());
      for (Finding x : scan(rel, Files.readString(f, StandardCharsets.UTF_8))) {
        if (allowed.contains(x.name())) {
          clashesSeen.add(rel + " " + x.name());
        } else if (!pending.contains(x.name())) {
          bad.add(x);
        }
      }
    }
    assertEquals(List.of(), bad, "inline fully-qualified type names: import the type instead (or, for a real"
        + " simple-name clash, list it in NoInlineQualifiedNamesTest.CLASHES)");
    Set<String> listed = new TreeSet<>();
    CLASHES.forEach((file, names) -> names.forEach(n -> listed.add(file + " " + n)));
    assertEquals(listed, clashesSeen, "every CLASHES entry still occurs (drop the ones that no longer do)");
  }

  /** The scanner reports qualified names in code, with their lines, and nothing in imports, comments or strings. */
  @Test
  void scannerFindsCodeOnly() {
    String src = String.join("\n",
        "package org.example;",
        "import java.util.List;",
        "import static java.util.Objects.requireNonNull;",
        "/** See {@link java.util.Map} and java.util.Set. */",
        "class A {",
        "  // java.util.Deque in a comment",
        "  String s = \"java.util.Queue in a string\\\" java.util.Stack\";",
        "  char c = '\"';",
        "  java.util.Map<String, Integer> m = new java.util.LinkedHashMap<>();",
        "  /* java.util.Vector */ Object o = org.twicing.models.zoo.PresetOptions.defaults();",
        "  String t = \"\"\"",
        "      java.util.Hashtable",
        "      \"\"\";",
        "  Runnable r = java.lang.Thread::dumpStack; int n = this.java.Fake + cfg.schedule.LINEAR;",
        "}");
    List<String> got = scan("A.java", src).stream().map(Finding::toString).toList();
    assertEquals(List.of("A.java:9: java.util.Map", "A.java:9: java.util.LinkedHashMap",
        "A.java:10: org.twicing.models.zoo.PresetOptions", "A.java:14: java.lang.Thread"), got);
  }

  /** The inline qualified type names in one Java source. */
  static List<Finding> scan(String file, String source) {
    String code = codeOnly(source);
    List<Finding> out = new ArrayList<>();
    String[] lines = code.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.startsWith("import ") || line.startsWith("package ")) {
        continue;
      }
      Matcher m = QUALIFIED.matcher(lines[i]);
      while (m.find()) {
        out.add(new Finding(file, i + 1, m.group()));
      }
    }
    return out;
  }

  /** The source with comments, string, text-block and char literals blanked out (line breaks kept). */
  static String codeOnly(String s) {
    StringBuilder b = new StringBuilder(s);
    int i = 0;
    int n = s.length();
    while (i < n) {
      int end;
      if (s.startsWith("//", i)) {
        end = s.indexOf('\n', i);
        end = end < 0 ? n : end;
      } else if (s.startsWith("/*", i)) {
        end = s.indexOf("*/", i + 2);
        end = end < 0 ? n : end + 2;
      } else if (s.startsWith("\"\"\"", i)) {
        end = i + 3;
        while (end < n && !s.startsWith("\"\"\"", end)) {
          end += s.charAt(end) == '\\' ? 2 : 1;
        }
        end = Math.min(n, end + 3);
      } else if (s.charAt(i) == '"' || s.charAt(i) == '\'') {
        char q = s.charAt(i);
        end = i + 1;
        while (end < n && s.charAt(end) != q) {
          end += s.charAt(end) == '\\' ? 2 : 1;
        }
        end = Math.min(n, end + 1);
      } else {
        i++;
        continue;
      }
      for (int k = i; k < end; k++) {
        if (b.charAt(k) != '\n') {
          b.setCharAt(k, ' ');
        }
      }
      i = end;
    }
    return b.toString();
  }

  /** Every .java file under a src/main/java or src/test/java folder below root. */
  private static List<Path> javaSources(Path root) throws IOException {
    List<Path> out = new ArrayList<>();
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
        Path name = dir.getFileName();
        return name != null && !dir.equals(root) && PRUNED.contains(name.toString())
            ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
        String p = file.toString().replace('\\', '/');
        if (p.endsWith(".java") && (p.contains("/src/main/java/") || p.contains("/src/test/java/"))) {
          out.add(file);
        }
        return FileVisitResult.CONTINUE;
      }
    });
    out.sort(null);
    return out;
  }
}
