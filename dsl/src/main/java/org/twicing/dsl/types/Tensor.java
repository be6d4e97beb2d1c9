package org.twicing.dsl.types;

import java.util.Arrays;
import java.util.Random;
import java.util.function.IntToDoubleFunction;

/**
 * A concrete, immutable host tensor: dtype, fixed shape and row-major values held as float64. Used for parameter
 * data and constants, and as the value type of the float64 reference evaluator. Integers and booleans are held
 * exactly (|x| below 2^53); conversion to the declared dtype happens only when bytes are written.
 *
 * <p>The tensor owns its values: the constructor copies the array it is given and no accessor hands out the
 * backing array, so a tensor shared between graphs, attributes and caches cannot change under them. Code that
 * computes a new tensor fills a {@link Builder}, which hands its array over without a copy.
 */
public final class Tensor {
  private final DType dtype;
  private final long[] shape;
  private final double[] data;

  /** A tensor of the given dtype and shape holding a copy of {@code values} (row-major). */
  public Tensor(DType dtype, long[] shape, double[] values) {
    this(dtype, shape.clone(), values.clone(), true);
  }

  /** Takes ownership of {@code shape} and {@code data}; only called with arrays nobody else holds. */
  private Tensor(DType dtype, long[] shape, double[] data, boolean check) {
    if (check) {
      long n = checkedNumel(shape);
      if (n != data.length) {
        throw new IllegalArgumentException("tensor shape " + Arrays.toString(shape) + " needs " + n
            + " values, got " + data.length);
      }
    }
    this.dtype = dtype;
    this.shape = shape;
    this.data = data;
  }

  /** A builder for a new tensor of the given dtype and shape, its values starting at zero. */
  public static Builder builder(DType dtype, long... shape) {
    return new Builder(dtype, shape);
  }

  /** A tensor whose value at flat index {@code i} is {@code value.applyAsDouble(i)} (not rounded). */
  public static Tensor build(DType dtype, long[] shape, IntToDoubleFunction value) {
    Builder b = builder(dtype, shape);
    for (int i = 0; i < b.size(); i++) {
      b.set(i, value.applyAsDouble(i));
    }
    return b.build();
  }

  /** A zero-filled tensor. */
  public static Tensor zeros(DType dtype, long... shape) {
    return builder(dtype, shape).build();
  }

  /** A tensor filled with {@code value}. */
  public static Tensor full(DType dtype, double value, long... shape) {
    return builder(dtype, shape).fill(value).build();
  }

  /** A rank-0 tensor. */
  public static Tensor scalar(DType dtype, double value) {
    return builder(dtype).fill(value).build();
  }

  /** A rank-1 int64 tensor. */
  public static Tensor longs(long... values) {
    return build(DType.INT64, new long[] {values.length}, i -> values[i]);
  }

  /** A float32 tensor from floats. */
  public static Tensor floats(long[] shape, float... values) {
    Builder b = builder(DType.FLOAT32, shape);
    if (b.size() != values.length) {
      throw new IllegalArgumentException("tensor shape " + Arrays.toString(shape) + " needs " + b.size()
          + " values, got " + values.length);
    }
    for (int i = 0; i < values.length; i++) {
      b.set(i, values[i]);
    }
    return b.build();
  }

  /** Standard-normal values scaled by {@code std}, drawn from {@code rng}, rounded to the dtype. */
  public static Tensor randn(DType dtype, Random rng, double std, long... shape) {
    Builder b = builder(dtype, shape);
    for (int i = 0; i < b.size(); i++) {
      b.set(i, rng.nextGaussian() * std);
    }
    return b.build(Rounding.TO_DTYPE);
  }

  /** Product of sizes. */
  public static long numel(long[] shape) {
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    return n;
  }

  private static long checkedNumel(long[] shape) {
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("tensor shape " + Arrays.toString(shape) + " has a negative dimension");
      }
    }
    return numel(shape);
  }

  /** The element type. */
  public DType dtype() {
    return dtype;
  }

  /** A copy of the shape. */
  public long[] shape() {
    return shape.clone();
  }

  /** The size of one dimension. */
  public long dim(int axis) {
    return shape[axis < 0 ? axis + shape.length : axis];
  }

  /** The rank. */
  public int rank() {
    return shape.length;
  }

  /** The element count. */
  public int size() {
    return data.length;
  }

  /** The element at flat index {@code i}. */
  public double get(int i) {
    return data[i];
  }

  /** The static type of this tensor. */
  public TensorType type() {
    return new TensorType(dtype, Shape.fixed(shape));
  }

  /** The values as a new float64 array (changing it does not change this tensor). */
  public double[] toDoubles() {
    return data.clone();
  }

  /** Copies elements [from, from + length) into {@code dest} starting at {@code at}. */
  public void copyTo(int from, double[] dest, int at, int length) {
    System.arraycopy(data, from, dest, at, length);
  }

  /** The values as floats. */
  public float[] toFloats() {
    float[] f = new float[data.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) data[i];
    }
    return f;
  }

  /** The values as longs. */
  public long[] toLongs() {
    long[] l = new long[data.length];
    for (int i = 0; i < l.length; i++) {
      l[i] = (long) data[i];
    }
    return l;
  }

  /** The same values with another shape of equal element count (shares the immutable values). */
  public Tensor reshape(long... newShape) {
    long n = checkedNumel(newShape);
    if (n != data.length) {
      throw new IllegalArgumentException("tensor shape " + Arrays.toString(newShape) + " needs " + n
          + " values, got " + data.length);
    }
    return new Tensor(dtype, newShape.clone(), data, false);
  }

  /** The same values relabelled with another dtype and rounded to it. */
  public Tensor cast(DType to) {
    return cast(to, Rounding.TO_DTYPE);
  }

  /** The same values relabelled with another dtype and brought to it under {@code rounding}. */
  public Tensor cast(DType to, Rounding rounding) {
    double[] d = data.clone();
    rounding.applyInPlace(to, d);
    return new Tensor(to, shape, d, false);
  }

  /** The values rounded to what the dtype can hold (float rounding, integer truncation, bool to 0/1). */
  public Tensor roundedToDType() {
    return rounded(Rounding.TO_DTYPE);
  }

  /** The values brought to the dtype under {@code rounding}; this tensor when that cannot change them. */
  public Tensor rounded(Rounding rounding) {
    if (!rounding.changes(dtype)) {
      return this;
    }
    return cast(dtype, rounding);
  }

  /** Value equality: the same dtype, shape and values (compared as {@link Arrays#equals(double[], double[])}). */
  @Override
  public boolean equals(Object o) {
    return o instanceof Tensor t && t.dtype == dtype && Arrays.equals(t.shape, shape) && Arrays.equals(t.data, data);
  }

  @Override
  public int hashCode() {
    return (dtype.hashCode() * 31 + Arrays.hashCode(shape)) * 31 + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "Tensor(" + dtype + Arrays.toString(shape) + ")";
  }

  /**
   * Fills the values of one new tensor, then hands them over with {@link #build()} without copying; after that
   * the builder cannot be used again, so the tensor it built stays unchanged.
   */
  public static final class Builder {
    private final DType dtype;
    private final long[] shape;
    private double[] values;

    private Builder(DType dtype, long[] shape) {
      this.dtype = dtype;
      this.shape = shape.clone();
      this.values = new double[Math.toIntExact(checkedNumel(this.shape))];
    }

    private double[] values() {
      double[] v = values;
      if (v == null) {
        throw new IllegalStateException("Tensor.Builder for " + dtype + Arrays.toString(shape)
            + " was used after build()");
      }
      return v;
    }

    /** The element count. */
    public int size() {
      return values().length;
    }

    /** The value at flat index {@code i} so far. */
    public double get(int i) {
      return values()[i];
    }

    /** Sets the value at flat index {@code i}. */
    public void set(int i, double value) {
      values()[i] = value;
    }

    /** Adds {@code value} to the value at flat index {@code i}. */
    public void add(int i, double value) {
      values()[i] += value;
    }

    /** Sets every value to {@code value}. */
    public Builder fill(double value) {
      Arrays.fill(values(), value);
      return this;
    }

    /** Copies {@code length} values of {@code src} from flat index {@code from} to flat index {@code at}. */
    public Builder copyFrom(Tensor src, int from, int at, int length) {
      System.arraycopy(src.data, from, values(), at, length);
      return this;
    }

    /** The tensor holding the values set, as given. */
    public Tensor build() {
      double[] v = values();
      values = null;
      return new Tensor(dtype, shape, v, false);
    }

    /** The tensor holding the values set, brought to the dtype under {@code rounding}. */
    public Tensor build(Rounding rounding) {
      rounding.applyInPlace(dtype, values());
      return build();
    }
  }
}
