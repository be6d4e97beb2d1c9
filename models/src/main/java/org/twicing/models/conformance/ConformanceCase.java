package org.twicing.models.conformance;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * One ONNX backend test case on disk: a folder holding {@code model.onnx} and {@code test_data_set_N/} folders of
 * {@code input_K.pb} / {@code output_K.pb}, with the tolerances ONNX's backend runner compares it at.
 *
 * @param name the case name (its folder name, e.g. {@code test_add_bcast})
 * @param dir the case folder
 * @param rtol relative tolerance, as in {@code numpy.testing.assert_allclose}
 * @param atol absolute tolerance, as in {@code numpy.testing.assert_allclose}
 * @param adaptation what the generator changed in the case (its {@code adaptation.txt}, e.g. a model converted
 *     to a newer opset by onnx.version_converter), or empty
 */
public record ConformanceCase(String name, Path dir, double rtol, double atol, String adaptation) {
  /** The tolerance ONNX's backend runner uses for node cases that name none: {@code rtol=1e-3}. */
  public static final double DEFAULT_RTOL = 1e-3;
  /** The tolerance ONNX's backend runner uses for node cases that name none: {@code atol=1e-7}. */
  public static final double DEFAULT_ATOL = 1e-7;

  /** The case's model file. */
  public Path model() {
    return dir.resolve("model.onnx");
  }

  /** The case's {@code test_data_set_N} folders, in N order. */
  public List<Path> dataSets() {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> Files.isDirectory(p) && p.getFileName().toString().startsWith("test_data_set_"))
          .sorted(Comparator.comparingInt(p -> suffix(p.getFileName().toString(), "test_data_set_")))
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list test data sets of case " + dir, e);
    }
  }

  /**
   * Every case folder under {@code root} (the root itself, its children, or its grandchildren, so both a folder
   * of cases and ONNX's {@code data/} layout with {@code node/} inside work), sorted by name. Tolerances come
   * from the case's {@code tolerance.json} when the generator wrote one, else ONNX's defaults; the adaptation
   * from its {@code adaptation.txt}.
   */
  public static List<ConformanceCase> discover(Path root) throws IOException {
    if (!Files.isDirectory(root)) {
      throw new NoSuchFileException(root.toString(), null, "not a folder of ONNX test cases");
    }
    List<ConformanceCase> out = new ArrayList<>();
    try (Stream<Path> s = Files.walk(root, 3)) {
      for (Path model : s.filter(p -> p.getFileName().toString().equals("model.onnx")).toList()) {
        out.add(at(model.getParent()));
      }
    }
    out.sort(Comparator.comparing(ConformanceCase::name).thenComparing(c -> c.dir().toString()));
    return out;
  }

  /** The case in folder {@code dir}, with its tolerances. */
  public static ConformanceCase at(Path dir) throws IOException {
    double rtol = DEFAULT_RTOL;
    double atol = DEFAULT_ATOL;
    Path tol = dir.resolve("tolerance.json");
    if (Files.isRegularFile(tol)) {
      JsonObject o;
      try {
        o = JsonParser.parseString(Files.readString(tol, StandardCharsets.UTF_8)).getAsJsonObject();
      } catch (JsonParseException | IllegalStateException e) {
        throw new IOException(tol + ": expected a JSON object such as {\"rtol\": 1e-3, \"atol\": 1e-7}", e);
      }
      rtol = tolerance(o, "rtol", rtol, tol);
      atol = tolerance(o, "atol", atol, tol);
    }
    Path adapted = dir.resolve("adaptation.txt");
    String adaptation = Files.isRegularFile(adapted)
        ? Files.readString(adapted, StandardCharsets.UTF_8).strip().replace('\n', ' ') : "";
    return new ConformanceCase(dir.getFileName().toString(), dir, rtol, atol, adaptation);
  }

  private static double tolerance(JsonObject o, String key, double otherwise, Path file) throws IOException {
    JsonElement v = o.get(key);
    if (v == null) {
      return otherwise;
    }
    if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()) {
      throw new IOException(file + ": " + key + " is not a number: " + v);
    }
    return v.getAsDouble();
  }

  /** The integer after {@code prefix} in {@code s} (for ordering input_10 after input_9). */
  static int suffix(String s, String prefix) {
    String rest = s.substring(prefix.length());
    int end = rest.indexOf('.');
    try {
      return Integer.parseInt(end < 0 ? rest : rest.substring(0, end));
    } catch (NumberFormatException e) {
      return Integer.MAX_VALUE;
    }
  }
}
