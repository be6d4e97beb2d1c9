package org.twicing.dsl.types;

import java.util.Objects;

/** One dimension of a shape: a fixed size, or a named symbol such as {@code batch} whose size is bound at run time. */
public final class Dim {
  private final long size;
  private final String symbol;

  private Dim(long size, String symbol) {
    this.size = size;
    this.symbol = symbol;
  }

  /** A dimension of fixed, known size. */
  public static Dim of(long size) {
    if (size < 0) {
      throw new IllegalArgumentException("a fixed dimension must be >= 0, got " + size);
    }
    return new Dim(size, null);
  }

  /** A symbolic dimension named {@code name}; two dims with the same name are the same size. */
  public static Dim sym(String name) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("a symbolic dimension needs a non-empty name");
    }
    return new Dim(-1, name);
  }

  /** Whether the size is known when the graph is built. */
  public boolean isFixed() {
    return symbol == null;
  }

  /** The fixed size; fails for symbolic dims. */
  public long size() {
    if (symbol != null) {
      throw new IllegalStateException("dimension '" + symbol + "' is symbolic and has no fixed size");
    }
    return size;
  }

  /** The symbol's name, or null for a fixed dim. */
  public String symbol() {
    return symbol;
  }

  /** Whether this dim is the fixed size {@code n}. */
  public boolean is(long n) {
    return symbol == null && size == n;
  }

  /** Product of two dims when both are fixed; otherwise a symbol naming the product. */
  public Dim times(Dim other) {
    if (isFixed() && other.isFixed()) {
      return of(size * other.size);
    }
    if (is(1)) {
      return other;
    }
    if (other.is(1)) {
      return this;
    }
    return sym(this + "*" + other);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Dim d && d.size == size && Objects.equals(d.symbol, symbol);
  }

  @Override
  public int hashCode() {
    return Objects.hash(size, symbol);
  }

  @Override
  public String toString() {
    return symbol != null ? symbol : Long.toString(size);
  }
}
