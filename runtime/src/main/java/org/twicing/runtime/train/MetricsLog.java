package org.twicing.runtime.train;

import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.io.AtomicFile;

/**
 * The {@code metrics.jsonl} file of a run: one {@link MetricsLine} per line.
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
        MetricsLine m;
        try {
          m = MetricsLine.parse(line);
        } catch (IllegalArgumentException e) {
          if (i == last) {
            break; // a torn last line from a crash mid-write: the only damage a crash can cause
          }
          // Anything else is damage the log cannot explain; dropping what follows would lose records silently.
          throw new IOException(file + ": line " + (i + 1) + ": " + e.getMessage() + " (only a torn last line can "
              + "be dropped; repair or remove this line to resume)", e);
        }
        double step = m.get("step");
        if (step <= keepThroughStep) {
          kept.add(line);
        }
      }
    }
    byte[] content = (kept.isEmpty() ? "" : String.join("\n", kept) + "\n").getBytes(StandardCharsets.UTF_8);
    AtomicFile.write(file, ch -> {
      ByteBuffer b = ByteBuffer.wrap(content);
      while (b.hasRemaining()) {
        ch.write(b);
      }
    });
    return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND));
  }

  /** Appends one record (values: numbers; null or non-finite numbers become {@code null}). */
  public void append(Map<String, ? extends Number> record) throws IOException {
    append(MetricsLine.of(record));
  }

  /** Appends one line. */
  public void append(MetricsLine line) throws IOException {
    try {
      out.write(line.toJson());
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

  /** Reads every record of a metrics file as doubles (null values map to NaN). */
  public static List<Map<String, Double>> read(Path file) throws IOException {
    List<Map<String, Double>> out = new ArrayList<>();
    for (MetricsLine line : readLines(file)) {
      out.add(line.asDoubles());
    }
    return out;
  }

  /** Reads every line of a metrics file; errors name the file and the line. */
  public static List<MetricsLine> readLines(Path file) throws IOException {
    List<MetricsLine> out = new ArrayList<>();
    int n = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      n++;
      if (line.isBlank()) {
        continue;
      }
      try {
        out.add(MetricsLine.parse(line));
      } catch (IllegalArgumentException e) {
        throw new IOException(file + ": line " + n + ": " + e.getMessage(), e);
      }
    }
    return out;
  }
}
