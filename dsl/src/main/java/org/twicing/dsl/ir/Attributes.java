package org.twicing.dsl.ir;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.twicing.dsl.types.Tensor;

/** An immutable set of typed attribute values, ordered by name so emission is deterministic. */
public final class Attributes {
  private static final Attributes EMPTY = new Attributes(new TreeMap<>());
  private final TreeMap<String, Entry<?>> entries;

  /** One attribute: its key and value. */
  public record Entry<T>(Attr<T> key, T value) { }

  private Attributes(TreeMap<String, Entry<?>> entries) {
    this.entries = entries;
  }

  /** No attributes. */
  public static Attributes none() {
    return EMPTY;
  }

  /** One attribute. */
  public static <A> Attributes of(Attr<A> k, A v) {
    return none().with(k, v);
  }

  /** Two attributes. */
  public static <A, B> Attributes of(Attr<A> k1, A v1, Attr<B> k2, B v2) {
    return none().with(k1, v1).with(k2, v2);
  }

  /** A copy with {@code key} set to {@code value} (a null value removes it). */
  public <T> Attributes with(Attr<T> key, T value) {
    TreeMap<String, Entry<?>> copy = new TreeMap<>(entries);
    if (value == null) {
      copy.remove(key.name());
    } else {
      copy.put(key.name(), new Entry<>(key, value));
    }
    return new Attributes(copy);
  }

  /** The value of {@code key}, or null when unset. */
  public <T> T get(Attr<T> key) {
    Entry<?> e = entries.get(key.name());
    return e == null ? null : key.cast(e.value());
  }

  /** The value of {@code key}, or {@code dflt} when unset. */
  public <T> T get(Attr<T> key, T dflt) {
    T v = get(key);
    return v == null ? dflt : v;
  }

  /** Whether {@code key} is set. */
  public boolean has(Attr<?> key) {
    return entries.containsKey(key.name());
  }

  /** All entries by name. */
  public Map<String, Entry<?>> entries() {
    return Collections.unmodifiableMap(entries);
  }

  /**
   * A readable summary of the attributes; equal attributes give equal fingerprints, but tensor values enter only by
   * hash, so two fingerprints may also be equal for different tensors: compare with {@link #equals}.
   */
  public String fingerprint() {
    StringBuilder sb = new StringBuilder();
    for (Entry<?> e : entries.values()) {
      sb.append(e.key().name()).append('=');
      Object v = e.value();
      if (v instanceof long[] l) {
        sb.append(Arrays.toString(l));
      } else if (v instanceof double[] d) {
        sb.append(Arrays.toString(d));
      } else if (v instanceof Tensor t) {
        sb.append(t.dtype()).append(Arrays.toString(t.shape())).append(t.hashCode());
      } else {
        sb.append(v);
      }
      sb.append(';');
    }
    return sb.toString();
  }

  /** Structural equality: the same names with equal values, tensors compared element by element. */
  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Attributes a) || !a.entries.keySet().equals(entries.keySet())) {
      return false;
    }
    for (Map.Entry<String, Entry<?>> e : entries.entrySet()) {
      if (!sameValue(e.getValue().value(), a.entries.get(e.getKey()).value())) {
        return false;
      }
    }
    return true;
  }

  private static boolean sameValue(Object x, Object y) {
    if (x instanceof long[] a && y instanceof long[] b) {
      return Arrays.equals(a, b);
    }
    if (x instanceof double[] a && y instanceof double[] b) {
      return Arrays.equals(a, b);
    }
    if (x instanceof Tensor a && y instanceof Tensor b) {
      return a.equals(b);
    }
    return Objects.equals(x, y);
  }

  @Override
  public int hashCode() {
    return Objects.hash(fingerprint());
  }

  @Override
  public String toString() {
    return fingerprint();
  }
}
