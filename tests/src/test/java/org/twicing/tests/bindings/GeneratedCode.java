package org.twicing.tests.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.StringWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.twicing.codegen.bindings.GeneratedSource;

/**
 * Generated sources compiled in-process with {@code javac -Xlint:all -Werror} against the test class path, loaded
 * in their own class loader (parented to the test's, so they share its runtime and ONNX Runtime classes) and
 * called by reflection.
 */
final class GeneratedCode implements AutoCloseable {
  private final URLClassLoader loader;
  private final String packageName;

  private GeneratedCode(URLClassLoader loader, String packageName) {
    this.loader = loader;
    this.packageName = packageName;
  }

  /**
   * Writes {@code files} under {@code dir/src}, compiles them into {@code dir/classes} and fails the test with
   * every diagnostic (warnings included: they are errors under -Werror) unless compilation is clean.
   */
  static GeneratedCode compile(List<GeneratedSource> files, Path dir) throws IOException {
    Path src = dir.resolve("src");
    Path classes = Files.createDirectories(dir.resolve("classes"));
    List<File> sources = new ArrayList<>();
    for (GeneratedSource f : files) {
      sources.add(f.writeTo(src).toFile());
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    StringWriter out = new StringWriter();
    boolean ok;
    try (StandardJavaFileManager fm = javac.getStandardFileManager(diagnostics, Locale.ROOT,
        StandardCharsets.UTF_8)) {
      List<String> options = List.of("-Xlint:all", "-Werror", "-classpath", System.getProperty("java.class.path"),
          "-d", classes.toString());
      ok = javac.getTask(out, fm, diagnostics, options, null, fm.getJavaFileObjectsFromFiles(sources)).call();
    }
    String report = diagnostics.getDiagnostics().stream()
        .map(d -> d.getKind() + " " + (d.getSource() == null ? "" : d.getSource().getName() + ":"
            + d.getLineNumber() + ": ") + d.getMessage(Locale.ROOT))
        .collect(Collectors.joining("\n"));
    assertTrue(ok, "generated code does not compile cleanly:\n" + report + out);
    assertEquals(List.of(), diagnostics.getDiagnostics().stream()
        .filter(d -> d.getKind() != Diagnostic.Kind.NOTE).map(d -> d.getMessage(Locale.ROOT)).toList(),
        "javac reported diagnostics:\n" + report);
    URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()},
        GeneratedCode.class.getClassLoader());
    return new GeneratedCode(loader, files.get(0).packageName());
  }

  /** The generated class {@code simpleName}. */
  Class<?> type(String simpleName) throws ClassNotFoundException {
    return loader.loadClass(packageName.isEmpty() ? simpleName : packageName + "." + simpleName);
  }

  /** Calls static method {@code name} of {@code type} with parameter types {@code types}. */
  static Object callStatic(Class<?> type, String name, Class<?>[] types, Object... args) throws Throwable {
    return invoke(type.getMethod(name, types), null, args);
  }

  /** Calls public method {@code name} of {@code target} with parameter types {@code types}. */
  static Object call(Object target, String name, Class<?>[] types, Object... args) throws Throwable {
    return invoke(target.getClass().getMethod(name, types), target, args);
  }

  /** The value of record component (or no-argument method) {@code name} of {@code target}. */
  static Object get(Object target, String name) throws Throwable {
    return invoke(target.getClass().getMethod(name), target);
  }

  private static Object invoke(Method m, Object target, Object... args) throws Throwable {
    try {
      return m.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /** Parameter types, for {@link #call}. */
  static Class<?>[] types(Class<?>... types) {
    return types;
  }

  @Override
  public void close() throws IOException {
    loader.close();
  }
}
