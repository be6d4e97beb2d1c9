package org.twicing.dsl.types;

import java.util.Arrays;
import java.util.Random;

/**
 * A concrete host tensor: dtype, fixed shape and row-major values held as float64. Used for parameter data and
 * constants, and as the value type of the float64 reference evaluator. Integers and booleans are held exactly
 * (|x| below 2^53); conversion to the declared dtype happens only when bytes are written.
 */
public final class Tensor {
  /** Nesting depth of {@link #unrounded} on each thread; while positive, float values are not rounded. */
  private static final ThreadLocal<int[]> UNROUNDED = ThreadLocal.withInitial(() -> new int[1]);

  private final DType dtype;
  private final long[] shape;
  private final double[] data;

  /** Wraps {@code data} (not copied) as a tensor of the given dtype and shape. */
  public Tensor(DType dtype, long[] shape, double[] data) {
    long n = 1;
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("tensor shape " + Arrays.toString(shape) + " has a negative dimension");
      }
      n *= s;
    }
    if (n != data.length) {
      throw new IllegalArgumentException("tensor shape " + Arrays.toString(shape) + " needs " + n
          + " values, got " + data.length);
    }
    this.dtype = dtype;
    this.shape = shape.clone();
    this.data = data;
  }

  /** A zero-filled tensor. */
  public static Tensor zeros(DType dtype, long... shape) {
    return new Tensor(dtype, shape, new double[Math.toIntExact(numel(shape))]);
  }

  /** A tensor filled with {@code value}. */
  public static Tensor full(DType dtype, double value, long... shape) {
    double[] d = new double[Math.toIntExact(numel(shape))];
    Arrays.fill(d, value);
    return new Tensor(dtype, shape, d);
  }

  /** A rank-0 tensor. */
  public static Tensor scalar(DType dtype, double value) {
    return new Tensor(dtype, new long[0], new double[] {value});
  }

  /** A rank-1 int64 tensor. */
  public static Tensor longs(long... values) {
    double[] d = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      d[i] = values[i];
    }
    return new Tensor(DType.INT64, new long[] {values.length}, d);
  }

  /** A float32 tensor from floats. */
  public static Tensor floats(long[] shape, float... values) {
    double[] d = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      d[i] = values[i];
    }
    return new Tensor(DType.FLOAT32, shape, d);
  }

  /** Standard-normal values scaled by {@code std}, drawn from {@code rng}, rounded to the dtype. */
  public static Tensor randn(DType dtype, Random rng, double std, long... shape) {
    double[] d = new double[Math.toIntExact(numel(shape))];
    for (int i = 0; i < d.length; i++) {
      d[i] = rng.nextGaussian() * std;
    }
    return new Tensor(dtype, shape, d).roundedToDType();
  }

  /** Product of sizes. */
  public static long numel(long[] shape) {
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    return n;
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

  /** The backing array (not copied; callers must not modify tensors they did not create). */
  public double[] data() {
    return data;
  }

  /** The element at flat index {@code i}. */
  public double get(int i) {
    return data[i];
  }

  /** The static type of this tensor. */
  public TensorType type() {
    return new TensorType(dtype, Shape.fixed(shape));
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

  /** The same values with another shape of equal element count. */
  public Tensor reshape(long... newShape) {
    return new Tensor(dtype, newShape, data);
  }

  /** The same values relabelled with another dtype and rounded to it. */
  public Tensor cast(DType to) {
    return new Tensor(to, shape, data.clone()).roundedToDType();
  }

  /**
   * Runs {@code body} with float rounding off on the calling thread: inside it, {@link #roundedToDType()} leaves
   * float32/float16/bfloat16 values in full float64 precision (integers and bools are still truncated). The
   * evaluator uses this to evaluate float32 graphs in exact float64 arithmetic.
   */
  public static <T> T unrounded(java.util.function.Supplier<T> body) {
    int[] depth = UNROUNDED.get();
    depth[0]++;
    try {
      return body.get();
    } finally {
      depth[0]--;
    }
  }

  /**
   * Rounds every value to what the dtype can hold (float32 rounding, integer truncation, bool to 0/1); float
   * rounding is skipped inside {@link #unrounded}.
   */
  public Tensor roundedToDType() {
    switch (dtype) {
      case FLOAT32, FLOAT16, BFLOAT16 -> {
        if (UNROUNDED.get()[0] > 0) {
          return this;
        }
        for (int i = 0; i < data.length; i++) {
          data[i] = (float) data[i];
        }
      }
      case INT32, INT64 -> {
        for (int i = 0; i < data.length; i++) {
          data[i] = (long) data[i];
        }
      }
      case BOOL -> {
        for (int i = 0; i < data.length; i++) {
          data[i] = data[i] != 0 ? 1 : 0;
        }
      }
      default -> { }
    }
    return this;
  }

  @Override
  public String toString() {
    return "Tensor(" + dtype + Arrays.toString(shape) + ")";
  }
}
