package org.twicing.runtime.train;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One line of a run's {@code metrics.jsonl}: a flat JSON object of numbers ({@code step}, {@code epoch},
 * {@code loss}, {@code lr}, {@code samples_per_s}, plus {@code eval_*} metrics on evaluation steps), in file order.
 * Integers keep their kind so that a line is written back byte for byte; a missing value ({@code null} in the file,
 * or a non-finite number when written) reads as NaN.
 *
 * @param values the metrics by name, in order; a null value is written as {@code null}
 */
public record MetricsLine(Map<String, Number> values) {
  /** Copies {@code values}, keeping their order. */
  public MetricsLine {
    values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
  }

  /** The line of {@code values} (numbers; null or non-finite numbers are written as {@code null}). */
  public static MetricsLine of(Map<String, ? extends Number> values) {
    return new MetricsLine(new LinkedHashMap<>(values));
  }

  /** The value of {@code name} as a double; NaN when absent or null. */
  public double get(String name) {
    Number v = values.get(name);
    return v == null ? Double.NaN : v.doubleValue();
  }

  /** The values as doubles (null as NaN), in order. */
  public Map<String, Double> asDoubles() {
    Map<String, Double> m = new LinkedHashMap<>();
    values.forEach((k, v) -> m.put(k, v == null ? Double.NaN : v.doubleValue()));
    return m;
  }

  /** The line as one compact JSON object, without a line break. */
  public String toJson() {
    StringWriter s = new StringWriter();
    try (JsonWriter w = new JsonWriter(s)) {
      w.setSerializeNulls(true);
      w.beginObject();
      for (Map.Entry<String, Number> e : values.entrySet()) {
        w.name(e.getKey());
        Number v = e.getValue();
        if (v == null || (v instanceof Double d && !Double.isFinite(d)) || (v instanceof Float f && !Float.isFinite(f))) {
          w.nullValue();
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
          w.value(v.longValue());
        } else if (v instanceof Float f) {
          w.value(f);
        } else {
          w.value(v.doubleValue());
        }
      }
      w.endObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringWriter does not fail
    }
    return s.toString();
  }

  /**
   * Parses one line written by {@link #toJson()}: a flat JSON object whose values are numbers or {@code null}.
   * Integers read as {@link Long}, other numbers as {@link Double}, {@code null} as NaN.
   *
   * @throws IllegalArgumentException naming the key at fault, or quoting the line when it is not such an object
   */
  public static MetricsLine parse(String line) {
    Map<String, Number> m = new LinkedHashMap<>();
    try (JsonReader r = new JsonReader(new StringReader(line))) {
      r.beginObject();
      while (r.hasNext()) {
        String key = r.nextName();
        JsonToken t = r.peek();
        if (t == JsonToken.NULL) {
          r.nextNull();
          m.put(key, Double.NaN);
        } else if (t == JsonToken.NUMBER) {
          m.put(key, number(r.nextString()));
        } else {
          throw new IllegalArgumentException("value of \"" + key + "\" is not a number or null but " + t + ": "
              + line);
        }
      }
      r.endObject();
      if (r.peek() != JsonToken.END_DOCUMENT) {
        throw new IllegalArgumentException("text after the JSON object: " + line);
      }
    } catch (IOException | IllegalStateException e) {
      throw new IllegalArgumentException("not a flat JSON object of numbers (" + e.getMessage() + "): " + line, e);
    }
    return new MetricsLine(m);
  }

  private static Number number(String text) {
    if (text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0) {
      try {
        return Long.parseLong(text);
      } catch (NumberFormatException e) {
        // beyond long: read as a double below
      }
    }
    return Double.parseDouble(text);
  }
}
