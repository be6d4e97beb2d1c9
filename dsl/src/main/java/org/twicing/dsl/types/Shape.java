package org.twicing.dsl.types;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** An immutable tensor shape: an ordered list of fixed or symbolic dimensions. */
public final class Shape {
  private final List<Dim> dims;

  private Shape(List<Dim> dims) {
    this.dims = Collections.unmodifiableList(new ArrayList<>(dims));
  }

  /** A shape from dims. */
  public static Shape of(List<Dim> dims) {
    return new Shape(dims);
  }

  /** A shape from a mix of {@link Dim}, Number (fixed) and String entries (read by {@link Dim#parse}). */
  public static Shape of(Object... dims) {
    List<Dim> list = new ArrayList<>();
    for (Object d : dims) {
      if (d instanceof Dim dim) {
        list.add(dim);
      } else if (d instanceof Number n) {
        list.add(Dim.of(n.longValue()));
      } else if (d instanceof String s) {
        list.add(Dim.parse(s));
      } else {
        throw new IllegalArgumentException("shape entry must be Dim, number or symbol name, got " + d);
      }
    }
    return new Shape(list);
  }

  /** A fully fixed shape. */
  public static Shape fixed(long... sizes) {
    List<Dim> list = new ArrayList<>();
    for (long s : sizes) {
      list.add(Dim.of(s));
    }
    return new Shape(list);
  }

  /** The rank-0 shape of a scalar. */
  public static Shape scalar() {
    return new Shape(List.of());
  }

  /** Number of dimensions. */
  public int rank() {
    return dims.size();
  }

  /** The dimension at {@code axis}; negative axes count from the end. */
  public Dim dim(int axis) {
    return dims.get(axis < 0 ? axis + dims.size() : axis);
  }

  /** All dimensions, unmodifiable. */
  public List<Dim> dims() {
    return dims;
  }

  /** Whether every dimension is fixed. */
  public boolean isFixed() {
    return dims.stream().allMatch(Dim::isFixed);
  }

  /** The fixed sizes; fails naming the first symbolic dim. */
  public long[] sizes() {
    long[] out = new long[dims.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = dims.get(i).size();
    }
    return out;
  }

  /** Number of elements of a fixed shape. */
  public long numel() {
    long n = 1;
    for (Dim d : dims) {
      n *= d.size();
    }
    return n;
  }

  /** A copy with the dimension at {@code axis} replaced. */
  public Shape with(int axis, Dim d) {
    List<Dim> list = new ArrayList<>(dims);
    list.set(axis < 0 ? axis + dims.size() : axis, d);
    return new Shape(list);
  }

  /** The dims in [from, to). */
  public Shape slice(int from, int to) {
    return new Shape(dims.subList(from, to));
  }

  /** This shape followed by {@code other}. */
  public Shape concat(Shape other) {
    List<Dim> list = new ArrayList<>(dims);
    list.addAll(other.dims);
    return new Shape(list);
  }

  /** Normalises a possibly negative axis against this rank, failing with a message naming {@code what}. */
  public int axis(int axis, String what) {
    int r = dims.size();
    if (axis < -r || axis >= r) {
      throw new IllegalArgumentException(what + ": axis " + axis + " is out of range for rank " + r + " shape " + this);
    }
    return axis < 0 ? axis + r : axis;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape s && s.dims.equals(dims);
  }

  @Override
  public int hashCode() {
    return dims.hashCode();
  }

  @Override
  public String toString() {
    return dims.toString();
  }

  /** Formats fixed sizes like a shape, for messages about concrete arrays. */
  public static String format(long[] sizes) {
    return Arrays.toString(sizes);
  }
}
