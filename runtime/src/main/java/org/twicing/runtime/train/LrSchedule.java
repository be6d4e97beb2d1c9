package org.twicing.runtime.train;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The learning rate as a function of the step (1 for the first step), computed in Java and fed to the training
 * graph as its {@code lr} input: optional linear warm-up from {@code peak / warmup} at step 1 to {@code peak} at step
 * {@code warmup}, then either constant or a half-cosine decay from {@code peak} to {@code min} at step {@code total}
 * (and {@code min} after it).
 */
public final class LrSchedule {
  /** The shape after warm-up. */
  public enum Kind {
    /** Stay at the peak rate. */
    CONSTANT,
    /** Half a cosine from the peak down to the minimum at the last step. */
    COSINE
  }

  private final Kind kind;
  private final double peak;
  private final long warmup;
  private final long total;
  private final double min;

  private LrSchedule(Kind kind, double peak, long warmup, long total, double min) {
    if (!(peak > 0)) {
      throw new IllegalArgumentException("learning rate must be positive, got " + peak);
    }
    if (warmup < 0) {
      throw new IllegalArgumentException("warm-up steps must be >= 0, got " + warmup);
    }
    if (kind == Kind.COSINE && total <= 0) {
      throw new IllegalArgumentException("a cosine schedule needs the total number of steps (> 0), got " + total);
    }
    if (kind == Kind.COSINE && (min < 0 || min > peak)) {
      throw new IllegalArgumentException("minimum learning rate must be in [0, " + peak + "], got " + min);
    }
    this.kind = kind;
    this.peak = peak;
    this.warmup = warmup;
    this.total = total;
    this.min = min;
  }

  /** {@code lr} at every step. */
  public static LrSchedule constant(double lr) {
    return new LrSchedule(Kind.CONSTANT, lr, 0, 0, lr);
  }

  /** Linear warm-up over {@code warmup} steps to {@code lr}, then {@code lr}. */
  public static LrSchedule warmupConstant(double lr, long warmup) {
    return new LrSchedule(Kind.CONSTANT, lr, warmup, 0, lr);
  }

  /** Linear warm-up over {@code warmup} steps to {@code peak}, then cosine to {@code min} at step {@code total}. */
  public static LrSchedule warmupCosine(double peak, long warmup, long total, double min) {
    return new LrSchedule(Kind.COSINE, peak, warmup, total, min);
  }

  /** The learning rate of step {@code step} (1-based). */
  public double at(long step) {
    if (step < 1) {
      throw new IllegalArgumentException("steps count from 1, got " + step);
    }
    if (step <= warmup) {
      return peak * step / warmup;
    }
    if (kind == Kind.CONSTANT) {
      return peak;
    }
    double span = Math.max(1, total - warmup);
    double t = Math.min(1.0, (step - warmup) / span);
    return min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * t));
  }

  /** The shape after warm-up. */
  public Kind kind() {
    return kind;
  }

  /** The rate reached at the end of warm-up. */
  public double peak() {
    return peak;
  }

  /** Warm-up steps (0: none). */
  public long warmup() {
    return warmup;
  }

  /** The step at which a cosine schedule reaches its minimum (0 for constant). */
  public long total() {
    return total;
  }

  /** The final rate of a cosine schedule (the peak for constant). */
  public double min() {
    return min;
  }

  /** The same schedule ending at {@code newTotal} (cosine only; constant schedules are returned unchanged). */
  public LrSchedule withTotal(long newTotal) {
    return kind == Kind.CONSTANT ? this : new LrSchedule(kind, peak, warmup, newTotal, min);
  }

  /** The one-line form for people (logs, errors), e.g. {@code cosine(peak=0.001,warmup=50,total=1000,min=1e-05)}. */
  public String describe() {
    return kind.name().toLowerCase(Locale.ROOT) + "(peak=" + peak + ",warmup=" + warmup + ",total=" + total
        + ",min=" + min + ")";
  }

  /**
   * The JSON form stored in checkpoint metadata, which {@link #parse} reads back exactly, e.g.
   * {@code {"kind":"cosine","peak":0.001,"warmup":50,"total":1000,"min":1.0E-5}}.
   */
  public String encode() {
    JsonObject o = new JsonObject();
    o.addProperty("kind", kind.name().toLowerCase(Locale.ROOT));
    o.addProperty("peak", peak);
    o.addProperty("warmup", warmup);
    o.addProperty("total", total);
    o.addProperty("min", min);
    return o.toString();
  }

  /** Reads {@link #encode()}'s JSON, or the {@link #describe()} form (checkpoints written before JSON); fails quoting the text. */
  public static LrSchedule parse(String text) {
    if (text.trim().startsWith("{")) {
      try {
        JsonObject o = JsonParser.parseString(text).getAsJsonObject();
        return new LrSchedule(Kind.valueOf(o.get("kind").getAsString().toUpperCase(Locale.ROOT)),
            o.get("peak").getAsDouble(), o.get("warmup").getAsLong(), o.get("total").getAsLong(),
            o.get("min").getAsDouble());
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("not a learning-rate schedule: '" + text + "' (expected e.g. "
            + "{\"kind\":\"cosine\",\"peak\":0.001,\"warmup\":50,\"total\":1000,\"min\":1e-05})", e);
      }
    }
    try {
      int open = text.indexOf('(');
      if (open < 0 || !text.endsWith(")")) {
        throw new IllegalArgumentException();
      }
      Kind kind = Kind.valueOf(text.substring(0, open).trim().toUpperCase(Locale.ROOT));
      Map<String, String> kv = new LinkedHashMap<>();
      for (String part : text.substring(open + 1, text.length() - 1).split(",")) {
        int eq = part.indexOf('=');
        kv.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
      }
      return new LrSchedule(kind, Double.parseDouble(kv.get("peak")), Long.parseLong(kv.get("warmup")),
          Long.parseLong(kv.get("total")), Double.parseDouble(kv.get("min")));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a learning-rate schedule: '" + text + "' (expected e.g. "
          + "cosine(peak=0.001,warmup=50,total=1000,min=1e-05))", e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LrSchedule s && s.encode().equals(encode());
  }

  @Override
  public int hashCode() {
    return encode().hashCode();
  }

  @Override
  public String toString() {
    return describe();
  }
}
