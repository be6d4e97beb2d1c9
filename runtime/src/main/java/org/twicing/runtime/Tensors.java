package org.twicing.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import java.lang.reflect.Array;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Float16;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Creates ONNX Runtime tensors from Java arrays, NIO buffers and host {@link Tensor}s, and reads them back, without
 * boxing each element. Every tensor returned is owned by the caller, who must close it.
 */
public final class Tensors {
  private Tensors() { }

  // ---------------------------------------------------------------- flat primitive arrays

  /** A float32 tensor holding a copy of {@code data} in row-major order. */
  public static OnnxTensor floats(float[] data, long... shape) {
    checkCount("float32", data.length, shape);
    return create(() -> OnnxTensor.createTensor(env(), FloatBuffer.wrap(data), shape.clone()), "float32", shape);
  }

  /** A float64 tensor holding a copy of {@code data} in row-major order. */
  public static OnnxTensor doubles(double[] data, long... shape) {
    checkCount("float64", data.length, shape);
    return create(() -> OnnxTensor.createTensor(env(), DoubleBuffer.wrap(data), shape.clone()), "float64", shape);
  }

  /** An int64 tensor holding a copy of {@code data} in row-major order. */
  public static OnnxTensor longs(long[] data, long... shape) {
    checkCount("int64", data.length, shape);
    return create(() -> OnnxTensor.createTensor(env(), LongBuffer.wrap(data), shape.clone()), "int64", shape);
  }

  /** An int32 tensor holding a copy of {@code data} in row-major order. */
  public static OnnxTensor ints(int[] data, long... shape) {
    checkCount("int32", data.length, shape);
    return create(() -> OnnxTensor.createTensor(env(), IntBuffer.wrap(data), shape.clone()), "int32", shape);
  }

  /** A bool tensor holding a copy of {@code data} in row-major order. */
  public static OnnxTensor booleans(boolean[] data, long... shape) {
    checkCount("bool", data.length, shape);
    // ONNX bool is one byte per element, 0 or 1; there is no BooleanBuffer, so fill a direct byte buffer.
    ByteBuffer b = ByteBuffer.allocateDirect(data.length).order(ByteOrder.nativeOrder());
    for (boolean v : data) {
      b.put((byte) (v ? 1 : 0));
    }
    b.flip();
    return create(() -> OnnxTensor.createTensor(env(), b, shape.clone(), OnnxJavaType.BOOL), "bool", shape);
  }

  /** A rank-0 float32 tensor. */
  public static OnnxTensor floatScalar(float value) {
    return floats(new float[] {value});
  }

  /** A rank-0 int64 tensor. */
  public static OnnxTensor longScalar(long value) {
    return longs(new long[] {value});
  }

  // ---------------------------------------------------------------- nested arrays

  /**
   * A tensor from a rectangular multi-dimensional primitive array ({@code float[][][][]}, {@code long[][]},
   * {@code boolean[]}, ...). The dtype follows the element type (float, double, long, int, boolean). {@code name}
   * (usually the model input it is for) names the array in errors, which give the exact index of a ragged or null
   * row. A zero-length dimension hides the sizes below it; they are reported as 0.
   */
  public static OnnxTensor fromArray(String name, Object array) {
    if (array == null) {
      throw new IllegalArgumentException("input '" + name + "' is null, expected a primitive array");
    }
    Class<?> c = array.getClass();
    if (!c.isArray()) {
      throw new IllegalArgumentException("input '" + name + "' is a " + c.getName()
          + ", expected a (multi-dimensional) float, double, long, int or boolean array");
    }
    int rank = 0;
    Class<?> leaf = c;
    while (leaf.isArray()) {
      leaf = leaf.getComponentType();
      rank++;
    }
    if (!leaf.isPrimitive() || !(leaf == float.class || leaf == double.class || leaf == long.class
        || leaf == int.class || leaf == boolean.class)) {
      throw new IllegalArgumentException("input '" + name + "' is a " + c.getSimpleName()
          + "; supported element types are float, double, long, int and boolean (primitive, not boxed)");
    }
    // The shape is read along the first row at every level; every other row is then checked against it.
    long[] shape = new long[rank];
    Object probe = array;
    StringBuilder path = new StringBuilder(name);
    for (int d = 0; d < rank; d++) {
      if (probe == null) {
        throw new IllegalArgumentException("input '" + name + "' has a null row at " + path);
      }
      int len = Array.getLength(probe);
      shape[d] = len;
      probe = len > 0 && d + 1 < rank ? Array.get(probe, 0) : null;
      path.append("[0]");
      if (len == 0) {
        break;
      }
    }
    int n = toIntCount("input '" + name + "'", shape);
    Object flat = Array.newInstance(leaf, n);
    int[] cursor = {0};
    copyRows(name, array, 0, shape, new int[rank], flat, cursor);
    if (leaf == float.class) {
      return floats((float[]) flat, shape);
    } else if (leaf == double.class) {
      return doubles((double[]) flat, shape);
    } else if (leaf == long.class) {
      return longs((long[]) flat, shape);
    } else if (leaf == int.class) {
      return ints((int[]) flat, shape);
    } else {
      return booleans((boolean[]) flat, shape);
    }
  }

  private static void copyRows(String name, Object row, int depth, long[] shape, int[] index, Object flat,
      int[] cursor) {
    if (row == null) {
      throw new IllegalArgumentException("input '" + name + "' has a null row at " + name + indexPath(index, depth));
    }
    int len = Array.getLength(row);
    if (len != shape[depth]) {
      throw new IllegalArgumentException("input '" + name + "' is ragged: " + name + indexPath(index, depth)
          + " has length " + len + " but " + name + "[0]".repeat(depth) + " has length " + shape[depth]
          + " (expected shape " + Arrays.toString(shape) + ")");
    }
    if (depth == shape.length - 1) {
      // Innermost rows are primitive arrays of the leaf type: one bulk copy each, no per-element boxing.
      System.arraycopy(row, 0, flat, cursor[0], len);
      cursor[0] += len;
      return;
    }
    Object[] rows = (Object[]) row;
    for (int i = 0; i < len; i++) {
      index[depth] = i;
      copyRows(name, rows[i], depth + 1, shape, index, flat, cursor);
    }
  }

  private static String indexPath(int[] index, int depth) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < depth; i++) {
      s.append('[').append(index[i]).append(']');
    }
    return s.toString();
  }

  // ---------------------------------------------------------------- NIO buffers

  /**
   * A float32 tensor over the buffer's remaining elements. A direct buffer in native byte order is used in place
   * (zero-copy: later writes to it are seen by the tensor, so leave it alone while the tensor is in use); a heap
   * buffer is copied.
   */
  public static OnnxTensor fromBuffer(FloatBuffer data, long... shape) {
    checkBuffer("FloatBuffer", data, data.isDirect() ? data.order() : null, "float32", shape);
    return create(() -> OnnxTensor.createTensor(env(), data, shape.clone()), "float32", shape);
  }

  /** A float64 tensor over the buffer's remaining elements; zero-copy for direct native-order buffers. */
  public static OnnxTensor fromBuffer(DoubleBuffer data, long... shape) {
    checkBuffer("DoubleBuffer", data, data.isDirect() ? data.order() : null, "float64", shape);
    return create(() -> OnnxTensor.createTensor(env(), data, shape.clone()), "float64", shape);
  }

  /** An int64 tensor over the buffer's remaining elements; zero-copy for direct native-order buffers. */
  public static OnnxTensor fromBuffer(LongBuffer data, long... shape) {
    checkBuffer("LongBuffer", data, data.isDirect() ? data.order() : null, "int64", shape);
    return create(() -> OnnxTensor.createTensor(env(), data, shape.clone()), "int64", shape);
  }

  /** An int32 tensor over the buffer's remaining elements; zero-copy for direct native-order buffers. */
  public static OnnxTensor fromBuffer(IntBuffer data, long... shape) {
    checkBuffer("IntBuffer", data, data.isDirect() ? data.order() : null, "int32", shape);
    return create(() -> OnnxTensor.createTensor(env(), data, shape.clone()), "int32", shape);
  }

  /**
   * A tensor of {@code dtype} over the buffer's remaining bytes, which must be elements in native byte order (bool:
   * one byte, 0 or 1). Zero-copy for direct buffers, copied otherwise.
   */
  public static OnnxTensor fromBuffer(ByteBuffer data, DType dtype, long... shape) {
    long n = checkedCount(dtype + " ByteBuffer", shape);
    if ((long) data.remaining() != n * dtype.byteSize()) {
      throw new IllegalArgumentException("a " + dtype + Arrays.toString(shape) + " tensor needs " + n * dtype.byteSize()
          + " bytes (" + n + " elements of " + dtype.byteSize() + "), but the ByteBuffer has " + data.remaining()
          + " remaining");
    }
    return create(() -> OnnxTensor.createTensor(env(), data, shape.clone(), OrtTypes.javaType(dtype)),
        dtype.toString(), shape);
  }

  // ---------------------------------------------------------------- host tensors

  /** An ONNX Runtime tensor with the dtype, shape and values of a host tensor (any twicing dtype). */
  public static OnnxTensor fromHost(Tensor t) {
    int n = t.size();
    long[] shape = t.shape();
    DType dtype = t.dtype();
    // Fill a direct native-order buffer once and hand it to ORT in place, instead of an intermediate array plus copy.
    ByteBuffer bytes = ByteBuffer.allocateDirect(n * dtype.byteSize()).order(ByteOrder.nativeOrder());
    switch (dtype) {
      case FLOAT32 -> {
        FloatBuffer b = bytes.asFloatBuffer();
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.put((float) v);
        }
        return fromBuffer(b.flip(), shape);
      }
      case FLOAT64 -> {
        DoubleBuffer b = bytes.asDoubleBuffer();
        for (int i = 0; i < n; i++) {
          b.put(t.get(i));
        }
        return fromBuffer(b.flip(), shape);
      }
      case INT64 -> {
        LongBuffer b = bytes.asLongBuffer();
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.put((long) v);
        }
        return fromBuffer(b.flip(), shape);
      }
      case INT32 -> {
        IntBuffer b = bytes.asIntBuffer();
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.put((int) v);
        }
        return fromBuffer(b.flip(), shape);
      }
      case FLOAT16, BFLOAT16 -> {
        ShortBuffer b = bytes.asShortBuffer();
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.put(dtype == DType.FLOAT16 ? Float16.toFloat16Bits(v)
              : Float16.toBFloat16Bits(v));
        }
        return fromBuffer(bytes, dtype, shape);
      }
      case BOOL -> {
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          bytes.put((byte) (v != 0 ? 1 : 0));
        }
        return fromBuffer(bytes.flip(), dtype, shape);
      }
      default -> throw new IllegalStateException("no conversion for dtype " + dtype);
    }
  }

  /** The values of an ONNX Runtime tensor as a host tensor (values held as float64, as {@link Tensor} does). */
  public static Tensor toHost(OnnxTensor t) {
    TensorInfo info = t.getInfo();
    DType dtype = OrtTypes.dtype(info, "tensor " + Arrays.toString(info.getShape()));
    long[] shape = info.getShape();
    toIntCount("tensor of shape " + Arrays.toString(shape), shape);
    Tensor.Builder out = Tensor.builder(dtype, shape);
    switch (dtype) {
      case FLOAT32 -> {
        FloatBuffer b = t.getFloatBuffer();
        for (int i = 0; i < out.size(); i++) {
          out.set(i, b.get(i));
        }
      }
      case FLOAT64 -> {
        DoubleBuffer b = t.getDoubleBuffer();
        for (int i = 0; i < out.size(); i++) {
          out.set(i, b.get(i));
        }
      }
      case INT64 -> {
        LongBuffer b = t.getLongBuffer();
        for (int i = 0; i < out.size(); i++) {
          out.set(i, b.get(i));
        }
      }
      case INT32 -> {
        IntBuffer b = t.getIntBuffer();
        for (int i = 0; i < out.size(); i++) {
          out.set(i, b.get(i));
        }
      }
      case FLOAT16, BFLOAT16 -> {
        ShortBuffer b = t.getByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer();
        for (int i = 0; i < out.size(); i++) {
          short s = b.get(i);
          out.set(i, (float) (dtype == DType.FLOAT16 ? Float16.fromFloat16Bits(s)
              : Float16.fromBFloat16Bits(s)));
        }
      }
      case BOOL -> {
        ByteBuffer b = t.getByteBuffer();
        for (int i = 0; i < out.size(); i++) {
          out.set(i, b.get(i) != 0 ? 1 : 0);
        }
      }
      default -> throw new IllegalStateException("no conversion for dtype " + dtype);
    }
    return out.build();
  }

  /** The values of a float32 tensor; fails naming the actual dtype otherwise. */
  public static float[] toFloats(OnnxTensor t) {
    requireDType(t, DType.FLOAT32, "toFloats");
    FloatBuffer b = t.getFloatBuffer();
    float[] out = new float[b.remaining()];
    b.get(out);
    return out;
  }

  /** The values of an int64 tensor; fails naming the actual dtype otherwise. */
  public static long[] toLongs(OnnxTensor t) {
    requireDType(t, DType.INT64, "toLongs");
    LongBuffer b = t.getLongBuffer();
    long[] out = new long[b.remaining()];
    b.get(out);
    return out;
  }

  /** The concrete shape of an ONNX Runtime tensor. */
  public static long[] shapeOf(OnnxTensor t) {
    return t.getInfo().getShape();
  }

  /** The concrete type (dtype and fixed shape) of an ONNX Runtime tensor. */
  public static TensorType typeOf(OnnxTensor t) {
    TensorInfo info = t.getInfo();
    return new TensorType(OrtTypes.dtype(info, "tensor " + Arrays.toString(info.getShape())),
        Shape.fixed(info.getShape()));
  }

  // ---------------------------------------------------------------- helpers

  /** ORT's process-wide environment; tensors are not tied to a session, so none needs to be passed in. */
  static OrtEnvironment env() {
    return OrtEnvironment.getEnvironment();
  }

  private interface Creator {
    OnnxTensor create() throws OrtException;
  }

  private static OnnxTensor create(Creator c, String dtype, long[] shape) {
    try {
      return c.create();
    } catch (OrtException e) {
      throw new OnnxRuntimeException("could not create a " + dtype + Arrays.toString(shape) + " tensor", e);
    }
  }

  private static void requireDType(OnnxTensor t, DType expected, String what) {
    TensorInfo info = t.getInfo();
    DType actual = OrtTypes.dtypeOrNull(info.onnxType);
    if (actual != expected) {
      throw new IllegalArgumentException(what + " needs a " + expected + " tensor, got "
          + OrtTypes.describe(info.onnxType) + Arrays.toString(info.getShape()));
    }
  }

  private static long checkedCount(String what, long[] shape) {
    long n = 1;
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException(what + ": shape " + Arrays.toString(shape) + " has a negative dimension");
      }
      n = Math.multiplyExact(n, s);
    }
    return n;
  }

  private static int toIntCount(String what, long[] shape) {
    long n = checkedCount(what, shape);
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(what + ": shape " + Arrays.toString(shape) + " has " + n
          + " elements, more than a Java array can hold (" + Integer.MAX_VALUE + ")");
    }
    return (int) n;
  }

  private static void checkCount(String dtype, int length, long[] shape) {
    long n = checkedCount(dtype + " data", shape);
    if (n != length) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " " + dtype
          + " values, but the array has " + length);
    }
  }

  private static void checkBuffer(String kind, Buffer data, ByteOrder directOrder, String dtype, long[] shape) {
    long n = checkedCount(dtype + " " + kind, shape);
    if (data.remaining() != n) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " " + dtype
          + " values, but the " + kind + " has " + data.remaining() + " remaining");
    }
    // ORT reads a direct buffer's memory as it is, so a non-native byte order would silently scramble every value.
    if (directOrder != null && directOrder != ByteOrder.nativeOrder()) {
      throw new IllegalArgumentException("the direct " + kind + " is " + directOrder + " but ONNX Runtime reads "
          + "native " + ByteOrder.nativeOrder() + " memory; create it with ByteBuffer.allocateDirect(bytes)"
          + ".order(ByteOrder.nativeOrder())");
    }
  }
}
