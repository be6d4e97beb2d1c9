package org.twicing.runtime.bindings;

import java.lang.reflect.Array;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.twicing.dsl.types.TensorSpec;

/**
 * Checks the inputs of one call of a generated binding against the model's declared shapes before anything is
 * handed to ONNX Runtime: arrays must be rectangular, fixed dimensions must have their size, and a symbolic
 * dimension such as {@code batch} must take one size across all inputs of the call. Every failure is an
 * {@link IllegalArgumentException} naming the input, the expected shape and the actual one.
 *
 * <p>Use one instance per call: it remembers the sizes symbols took in the inputs checked so far.
 */
public final class InputCheck {
  private final String model;
  private final Map<String, Binding> symbols = new HashMap<>();

  /** Where a symbol first took its size, so that a later disagreement can name both inputs. */
  private record Binding(String input, int axis, long size, long[] shape) { }

  /** A check for one call of {@code model} (its name, as used in messages). */
  public InputCheck(String model) {
    this.model = model;
  }

  /**
   * Checks a (multi-dimensional) primitive array fed for {@code spec} and returns its shape. The array's rank is
   * not checked here: the generated method's parameter type already fixes it.
   */
  public long[] array(TensorSpec spec, Object array) {
    if (array == null) {
      throw new IllegalArgumentException(what(spec) + " is null; expected " + spec.type());
    }
    int rank = spec.rank();
    long[] shape = new long[rank];
    Object row = array;
    for (int d = 0; d < rank; d++) {
      int len = Array.getLength(row);
      shape[d] = len;
      if (len == 0 && d + 1 < rank) {
        throw new IllegalArgumentException(what(spec) + " has length 0 at " + spec.name() + "[0]".repeat(d)
            + ", which hides the sizes of dimensions " + (d + 1) + ".." + (rank - 1) + "; expected shape "
            + spec.shape() + ", actual shape " + shapeSoFar(shape, d) + "; feed arrays with a zero-length "
            + "dimension through the buffer overload, which takes an explicit shape");
      }
      if (d + 1 < rank) {
        row = Array.get(row, 0);
        if (row == null) {
          throw new IllegalArgumentException(what(spec) + " has a null row at " + spec.name()
              + "[0]".repeat(d + 1) + "; expected shape " + spec.shape());
        }
      }
    }
    checkRows(spec, array, 0, shape, new int[rank]);
    checkDims(spec, shape);
    return shape;
  }

  /**
   * Checks a buffer fed for {@code spec} with its explicit {@code shape} (rank, sizes, and that the buffer's
   * remaining elements are exactly as many as the shape holds) and returns a copy of the shape.
   */
  public long[] buffer(TensorSpec spec, Buffer data, long[] shape) {
    if (data == null) {
      throw new IllegalArgumentException(what(spec) + " is null; expected a buffer holding " + spec.type());
    }
    if (shape == null) {
      throw new IllegalArgumentException(what(spec) + " was given no shape (null); expected shape "
          + spec.shape());
    }
    long[] s = shape.clone();
    if (s.length != spec.rank()) {
      throw new IllegalArgumentException(what(spec) + " has shape " + Arrays.toString(s) + " but expects "
          + spec.shape() + ": rank " + s.length + ", not " + spec.rank());
    }
    long count = 1;
    for (int d = 0; d < s.length; d++) {
      if (s[d] < 0) {
        throw new IllegalArgumentException(what(spec) + " has shape " + Arrays.toString(s) + " but expects "
            + spec.shape() + ": dimension " + d + " is negative");
      }
      count = Math.multiplyExact(count, s[d]);
    }
    checkDims(spec, s);
    if (data.remaining() != count) {
      throw new IllegalArgumentException(what(spec) + " has shape " + Arrays.toString(s) + " (" + count
          + " elements) but its " + kind(data) + " has " + data.remaining() + " remaining");
    }
    return s;
  }

  private void checkRows(TensorSpec spec, Object row, int depth, long[] shape, int[] index) {
    if (row == null) {
      throw new IllegalArgumentException(what(spec) + " has a null row at " + spec.name() + path(index, depth)
          + "; expected shape " + spec.shape() + ", actual shape " + Arrays.toString(shape)
          + " along the first rows");
    }
    int len = Array.getLength(row);
    if (len != shape[depth]) {
      throw new IllegalArgumentException(what(spec) + " is ragged: " + spec.name() + path(index, depth)
          + " has length " + len + " but " + spec.name() + "[0]".repeat(depth) + " has length " + shape[depth]
          + "; expected shape " + spec.shape() + ", actual shape " + Arrays.toString(shape)
          + " along the first rows");
    }
    if (depth + 1 == shape.length) {
      return;
    }
    Object[] rows = (Object[]) row;
    for (int i = 0; i < len; i++) {
      index[depth] = i;
      checkRows(spec, rows[i], depth + 1, shape, index);
    }
  }

  private void checkDims(TensorSpec spec, long[] shape) {
    for (int d = 0; d < shape.length; d++) {
      if (spec.dim(d).isFixed()) {
        if (spec.dim(d).size() != shape[d]) {
          throw new IllegalArgumentException(what(spec) + " has shape " + Arrays.toString(shape) + " but expects "
              + spec.shape() + ": dimension " + d + " is " + shape[d] + ", not " + spec.dim(d).size());
        }
      } else if (spec.isBound(d)) {
        String symbol = spec.dim(d).symbol();
        Binding first = symbols.putIfAbsent(symbol, new Binding(spec.name(), d, shape[d], shape.clone()));
        if (first != null && first.size() != shape[d]) {
          String where = first.input().equals(spec.name()) ? "dimension " + first.axis()
              : "input '" + first.input() + "' (shape " + Arrays.toString(first.shape()) + ")";
          throw new IllegalArgumentException(what(spec) + " has shape " + Arrays.toString(shape) + " but expects "
              + spec.shape() + ": dimension " + d + " (" + symbol + ") is " + shape[d] + ", but " + symbol
              + " is " + first.size() + " in " + where);
        }
      }
    }
  }

  private static String kind(Buffer b) {
    for (Class<?> c : new Class<?>[] {FloatBuffer.class, DoubleBuffer.class, LongBuffer.class, IntBuffer.class,
        ShortBuffer.class, ByteBuffer.class}) {
      if (c.isInstance(b)) {
        return c.getSimpleName();
      }
    }
    return "buffer";
  }

  private String what(TensorSpec spec) {
    return "input '" + spec.name() + "' of " + model;
  }

  private static String path(int[] index, int depth) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < depth; i++) {
      s.append('[').append(index[i]).append(']');
    }
    return s.toString();
  }

  private static String shapeSoFar(long[] shape, int last) {
    StringBuilder s = new StringBuilder("[");
    for (int i = 0; i < shape.length; i++) {
      s.append(i > 0 ? ", " : "").append(i <= last ? Long.toString(shape[i]) : "?");
    }
    return s.append(']').toString();
  }
}
