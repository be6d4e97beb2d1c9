package org.twicing.runtime.train;

import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.io.AtomicFile;

/**
 * The {@code metrics.jsonl} file of a run: one flat JSON object per line ({@code step}, {@code epoch}, {@code loss},
 * {@code lr}, {@code samples_per_s}, plus {@code eval_*} metrics on evaluation steps). Numbers only; a non-finite
 * value is written as {@code null}.
 */
public final class MetricsLog implements Closeable {
  /** The file name inside a run directory. */
  public static final String FILE_NAME = "metrics.jsonl";

  private final Path file;
  private final BufferedWriter out;

  private MetricsLog(Path file, BufferedWriter out) {
    this.file = file;
    this.out = out;
  }

  /**
   * Opens {@code file} for appending after keeping only the lines whose step is at most {@code keepThroughStep}
   * (rewritten atomically), so a resumed run continues the log of its checkpoint without the steps it repeats;
   * {@code keepThroughStep} 0 starts a new log.
   */
  public static MetricsLog open(Path file, long keepThroughStep) throws IOException {
    List<String> kept = new ArrayList<>();
    if (keepThroughStep > 0 && Files.exists(file)) {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      int last = lines.size() - 1;
      while (last >= 0 && lines.get(last).isBlank()) {
        last--;
      }
      for (int i = 0; i <= last; i++) {
        String line = lines.get(i);
        if (line.isBlank()) {
          continue;
        }
        Map<String, Double> m;
        try {
          m = parseLine(line);
        } catch (IllegalArgumentException e) {
          if (i == last) {
            break; // a torn last line from a crash mid-write: the only damage a crash can cause
          }
          // Anything else is damage the log cannot explain; dropping what follows would lose records silently.
          throw new IOException(file + ": line " + (i + 1) + ": " + e.getMessage() + " (only a torn last line can "
              + "be dropped; repair or remove this line to resume)", e);
        }
        Double step = m.get("step");
        if (step != null && step <= keepThroughStep) {
          kept.add(line);
        }
      }
    }
    byte[] content = (kept.isEmpty() ? "" : String.join("\n", kept) + "\n").getBytes(StandardCharsets.UTF_8);
    AtomicFile.write(file, ch -> {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(content);
      while (b.hasRemaining()) {
        ch.write(b);
      }
    });
    return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND));
  }

  /** Appends one record (values: numbers; null or non-finite numbers become {@code null}). */
  public void append(Map<String, ? extends Number> record) throws IOException {
    try {
      out.write(toJson(record));
      out.write('\n');
    } catch (IOException e) {
      throw named(e);
    }
  }

  /** Pushes buffered lines to the file. */
  public void flush() throws IOException {
    try {
      out.flush();
    } catch (IOException e) {
      throw named(e);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      out.close();
    } catch (IOException e) {
      throw named(e);
    }
  }

  /** The JDK reports a full disk as just "No space left on device": say which file could not be written. */
  private IOException named(IOException e) {
    return AtomicFile.naming(file, e);
  }

  /** One record as a JSON object. */
  public static String toJson(Map<String, ? extends Number> record) {
    StringBuilder sb = new StringBuilder("{");
    String sep = "";
    for (Map.Entry<String, ? extends Number> e : record.entrySet()) {
      sb.append(sep).append('"').append(e.getKey()).append("\":");
      Number v = e.getValue();
      if (v == null || (v instanceof Double d && !Double.isFinite(d)) || (v instanceof Float f && !Float.isFinite(f))) {
        sb.append("null");
      } else if (v instanceof Long || v instanceof Integer) {
        sb.append(v.longValue());
      } else if (v instanceof Float f) {
        sb.append(Float.toString(f));
      } else {
        sb.append(Double.toString(v.doubleValue()));
      }
      sep = ",";
    }
    return sb.append('}').toString();
  }

  /** Reads every record of a metrics file (null values map to NaN). */
  public static List<Map<String, Double>> read(Path file) throws IOException {
    List<Map<String, Double>> out = new ArrayList<>();
    int n = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      n++;
      if (line.isBlank()) {
        continue;
      }
      try {
        out.add(parseLine(line));
      } catch (IllegalArgumentException e) {
        throw new IOException(file + ": line " + n + ": " + e.getMessage(), e);
      }
    }
    return out;
  }

  /** Parses one flat JSON object of numbers (or nulls, returned as NaN). */
  public static Map<String, Double> parseLine(String line) {
    Map<String, Double> m = new LinkedHashMap<>();
    String s = line.strip();
    if (!s.startsWith("{") || !s.endsWith("}")) {
      throw new IllegalArgumentException("not a JSON object: " + line);
    }
    int i = 1;
    int end = s.length() - 1;
    while (i < end) {
      while (i < end && (s.charAt(i) == ' ' || s.charAt(i) == ',')) {
        i++;
      }
      if (i >= end) {
        break;
      }
      if (s.charAt(i) != '"') {
        throw new IllegalArgumentException("expected a quoted key at column " + i + ": " + line);
      }
      int close = s.indexOf('"', i + 1);
      if (close < 0) {
        throw new IllegalArgumentException("unterminated key: " + line);
      }
      String key = s.substring(i + 1, close);
      int colon = s.indexOf(':', close);
      if (colon < 0) {
        throw new IllegalArgumentException("missing ':' after \"" + key + "\": " + line);
      }
      int j = colon + 1;
      int k = j;
      while (k < end && s.charAt(k) != ',') {
        k++;
      }
      String v = s.substring(j, k).trim();
      try {
        m.put(key, v.equals("null") ? Double.NaN : Double.parseDouble(v));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("value of \"" + key + "\" is not a number: " + v);
      }
      i = k;
    }
    return m;
  }
}
