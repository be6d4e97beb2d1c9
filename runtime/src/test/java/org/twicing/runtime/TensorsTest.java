package org.twicing.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Float16;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Conversions between Java arrays, NIO buffers, host tensors and ONNX Runtime tensors. */
class TensorsTest {
  private static void assertMentions(Exception e, String... parts) {
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "message lacks '" + p + "': " + e.getMessage());
    }
  }

  @Test
  void flatArraysRoundTripWithTheirShapeAndDType() {
    float[] f = {1.5f, -2f, 3.25f, 0f, 1e-8f, 7f};
    try (OnnxTensor t = Tensors.floats(f, 2, 3)) {
      assertArrayEquals(f, Tensors.toFloats(t));
      assertEquals(TensorType.of(DType.FLOAT32, 2, 3), Tensors.typeOf(t));
    }
    long[] l = {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE};
    try (OnnxTensor t = Tensors.longs(l, 4)) {
      assertArrayEquals(l, Tensors.toLongs(t));
    }
    try (OnnxTensor t = Tensors.doubles(new double[] {Math.PI, -0.5}, 1, 2)) {
      assertArrayEquals(new double[] {Math.PI, -0.5}, Tensors.toHost(t).toDoubles());
      assertEquals(DType.FLOAT64, Tensors.toHost(t).dtype());
    }
    try (OnnxTensor t = Tensors.ints(new int[] {Integer.MIN_VALUE, 5, Integer.MAX_VALUE}, 3)) {
      Tensor h = Tensors.toHost(t);
      assertEquals(DType.INT32, h.dtype());
      assertArrayEquals(new double[] {Integer.MIN_VALUE, 5, Integer.MAX_VALUE}, h.toDoubles());
    }
    try (OnnxTensor t = Tensors.booleans(new boolean[] {true, false, false, true}, 2, 2)) {
      Tensor h = Tensors.toHost(t);
      assertEquals(DType.BOOL, h.dtype());
      assertArrayEquals(new long[] {2, 2}, h.shape());
      assertArrayEquals(new double[] {1, 0, 0, 1}, h.toDoubles());
    }
  }

  @Test
  void scalarsHaveRankZero() {
    try (OnnxTensor f = Tensors.floatScalar(2.5f); OnnxTensor l = Tensors.longScalar(-42)) {
      assertArrayEquals(new long[0], Tensors.shapeOf(f));
      assertArrayEquals(new float[] {2.5f}, Tensors.toFloats(f));
      assertEquals(TensorType.of(DType.INT64), Tensors.typeOf(l));
      assertArrayEquals(new long[] {-42}, Tensors.toLongs(l));
    }
  }

  @Test
  void elementCountMustFillTheShape() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensors.floats(new float[5], 2, 3));
    assertMentions(e, "[2, 3]", "needs 6 float32 values", "has 5");
    IllegalArgumentException neg = assertThrows(IllegalArgumentException.class, () -> Tensors.longs(new long[0], -1));
    assertMentions(neg, "negative dimension");
  }

  @Test
  void readingTheWrongDTypeNamesTheActualOne() {
    try (OnnxTensor t = Tensors.longs(new long[] {1, 2, 3}, 3)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensors.toFloats(t));
      assertMentions(e, "toFloats needs a float32 tensor", "got int64[3]");
    }
  }

  // ---------------------------------------------------------------- nested arrays

  @Test
  void fourDimensionalFloatArrayRoundTrips() {
    Random rng = new Random(1);
    float[][][][] a = new float[2][3][4][5];
    float[] flat = new float[2 * 3 * 4 * 5];
    int k = 0;
    for (float[][][] x : a) {
      for (float[][] y : x) {
        for (float[] z : y) {
          for (int i = 0; i < z.length; i++) {
            z[i] = rng.nextFloat();
            flat[k++] = z[i];
          }
        }
      }
    }
    try (OnnxTensor t = Tensors.fromArray("pixels", a)) {
      assertArrayEquals(new long[] {2, 3, 4, 5}, Tensors.shapeOf(t));
      assertArrayEquals(flat, Tensors.toFloats(t));
      // ORT's own reader rebuilds the nested array: an independent check of the row-major layout.
      assertTrue(Arrays.deepEquals(a, (Object[]) t.getValue()));
    } catch (OrtException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void nestedArraysOfEveryElementTypeRoundTrip() {
    try (OnnxTensor t = Tensors.fromArray("ids", new long[][] {{1, 2, 3}, {4, 5, 6}})) {
      assertEquals(TensorType.of(DType.INT64, 2, 3), Tensors.typeOf(t));
      assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6}, Tensors.toLongs(t));
    }
    try (OnnxTensor t = Tensors.fromArray("mask", new boolean[][] {{true}, {false}})) {
      assertEquals(TensorType.of(DType.BOOL, 2, 1), Tensors.typeOf(t));
      assertArrayEquals(new double[] {1, 0}, Tensors.toHost(t).toDoubles());
    }
    try (OnnxTensor t = Tensors.fromArray("k", new int[][][] {{{7, -8}}})) {
      assertEquals(TensorType.of(DType.INT32, 1, 1, 2), Tensors.typeOf(t));
      assertArrayEquals(new double[] {7, -8}, Tensors.toHost(t).toDoubles());
    }
    try (OnnxTensor t = Tensors.fromArray("d", new double[] {0.1, 0.2})) {
      assertArrayEquals(new double[] {0.1, 0.2}, Tensors.toHost(t).toDoubles());
    }
    try (OnnxTensor t = Tensors.fromArray("empty", new float[0][4])) {
      assertArrayEquals(new long[] {0, 0}, Tensors.shapeOf(t));
    }
  }

  @Test
  void raggedArrayErrorNamesTheInputAndTheOffendingIndex() {
    float[][][] a = new float[2][3][4];
    a[1][2] = new float[3];
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensors.fromArray("pixels", a));
    assertMentions(e, "input 'pixels' is ragged", "pixels[1][2] has length 3", "pixels[0][0] has length 4",
        "[2, 3, 4]");
    long[][] b = {{1, 2}, {3}};
    IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, () -> Tensors.fromArray("ids", b));
    assertMentions(e2, "ids[1] has length 1", "ids[0] has length 2");
  }

  @Test
  void nullRowsAndUnsupportedElementTypesAreNamed() {
    float[][] a = new float[3][2];
    a[2] = null;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensors.fromArray("x", a));
    assertMentions(e, "input 'x' has a null row at x[2]");
    IllegalArgumentException boxed = assertThrows(IllegalArgumentException.class,
        () -> Tensors.fromArray("x", new Float[][] {{1f}}));
    assertMentions(boxed, "input 'x'", "Float[][]", "primitive");
    IllegalArgumentException notArray = assertThrows(IllegalArgumentException.class,
        () -> Tensors.fromArray("x", 3.0f));
    assertMentions(notArray, "input 'x' is a java.lang.Float");
  }

  // ---------------------------------------------------------------- NIO buffers

  private static FloatBuffer directFloats(int n) {
    return ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  @Test
  void directFloatBufferIsUsedInPlace() {
    FloatBuffer b = directFloats(6);
    b.put(new float[] {1, 2, 3, 4, 5, 6}).flip();
    try (OnnxTensor t = Tensors.fromBuffer(b, 3, 2)) {
      assertFalse(t.ownsBuffer(), "a direct native-order buffer should not be copied");
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, Tensors.toFloats(t));
      b.put(0, 42f);
      assertEquals(42f, Tensors.toFloats(t)[0], "the tensor should see writes to the shared buffer");
    }
  }

  @Test
  void heapBufferIsCopiedAndPositionIsRespected() {
    FloatBuffer heap = FloatBuffer.wrap(new float[] {9, 9, 1, 2, 3, 4});
    heap.position(2);
    try (OnnxTensor t = Tensors.fromBuffer(heap, 2, 2)) {
      assertTrue(t.ownsBuffer());
      heap.put(2, 100f);
      assertArrayEquals(new float[] {1, 2, 3, 4}, Tensors.toFloats(t));
    }
    FloatBuffer direct = directFloats(5);
    direct.put(new float[] {7, 1, 2, 3, 4}).position(1);
    try (OnnxTensor t = Tensors.fromBuffer(direct, 4)) {
      assertArrayEquals(new float[] {1, 2, 3, 4}, Tensors.toFloats(t));
    }
  }

  @Test
  void otherDirectBuffersRoundTrip() {
    ByteOrder nat = ByteOrder.nativeOrder();
    LongBuffer lb = ByteBuffer.allocateDirect(3 * Long.BYTES).order(nat).asLongBuffer();
    lb.put(new long[] {-5, 0, 1L << 60}).flip();
    try (OnnxTensor t = Tensors.fromBuffer(lb, 3)) {
      assertArrayEquals(new long[] {-5, 0, 1L << 60}, Tensors.toLongs(t));
    }
    IntBuffer ib = ByteBuffer.allocateDirect(2 * Integer.BYTES).order(nat).asIntBuffer();
    ib.put(new int[] {3, -4}).flip();
    try (OnnxTensor t = Tensors.fromBuffer(ib, 2, 1)) {
      assertEquals(TensorType.of(DType.INT32, 2, 1), Tensors.typeOf(t));
      assertArrayEquals(new double[] {3, -4}, Tensors.toHost(t).toDoubles());
    }
    DoubleBuffer db = ByteBuffer.allocateDirect(2 * Double.BYTES).order(nat).asDoubleBuffer();
    db.put(new double[] {1e300, -1e-300}).flip();
    try (OnnxTensor t = Tensors.fromBuffer(db, 2)) {
      assertArrayEquals(new double[] {1e300, -1e-300}, Tensors.toHost(t).toDoubles());
    }
    ByteBuffer bools = ByteBuffer.allocateDirect(3);
    bools.put(new byte[] {1, 0, 1}).flip();
    try (OnnxTensor t = Tensors.fromBuffer(bools, DType.BOOL, 3)) {
      assertEquals(TensorType.of(DType.BOOL, 3), Tensors.typeOf(t));
      assertArrayEquals(new double[] {1, 0, 1}, Tensors.toHost(t).toDoubles());
    }
    ByteBuffer halves = ByteBuffer.allocateDirect(4).order(nat);
    halves.putShort(Float16.toFloat16Bits(1.5)).putShort(Float16.toFloat16Bits(-0.25)).flip();
    try (OnnxTensor t = Tensors.fromBuffer(halves, DType.FLOAT16, 2)) {
      Tensor h = Tensors.toHost(t);
      assertEquals(DType.FLOAT16, h.dtype());
      assertArrayEquals(new double[] {1.5, -0.25}, h.toDoubles());
    }
  }

  @Test
  void bufferErrorsNameTheProblem() {
    FloatBuffer bigEndian = ByteBuffer.allocateDirect(8).order(
        ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN)
        .asFloatBuffer();
    IllegalArgumentException order = assertThrows(IllegalArgumentException.class,
        () -> Tensors.fromBuffer(bigEndian, 2));
    assertMentions(order, "direct FloatBuffer", "nativeOrder");
    IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
        () -> Tensors.fromBuffer(directFloats(5), 2, 3));
    assertMentions(size, "[2, 3]", "needs 6 float32 values", "FloatBuffer has 5 remaining");
    IllegalArgumentException bytes = assertThrows(IllegalArgumentException.class,
        () -> Tensors.fromBuffer(ByteBuffer.allocateDirect(6), DType.FLOAT32, 2));
    assertMentions(bytes, "float32[2] tensor needs 8 bytes", "has 6 remaining");
  }

  // ---------------------------------------------------------------- host tensors

  @ParameterizedTest
  @EnumSource(DType.class)
  void hostTensorsOfEveryDTypeRoundTrip(DType dtype) {
    // Values every dtype holds exactly, so the round trip must be exact.
    double[] values = dtype == DType.BOOL ? new double[] {1, 0, 1, 1, 0, 0}
        : dtype.isFloating() ? new double[] {0.5, -2, 1024, 0, -0.125, 3}
        : new double[] {-7, 0, 123456, 1, -1, 2};
    Tensor host = new Tensor(dtype, new long[] {2, 3}, values);
    try (OnnxTensor t = Tensors.fromHost(host)) {
      assertEquals(host.type(), Tensors.typeOf(t));
      Tensor back = Tensors.toHost(t);
      assertEquals(dtype, back.dtype());
      assertArrayEquals(new long[] {2, 3}, back.shape());
      assertArrayEquals(values, back.toDoubles());
    }
  }

  @Test
  void hostFloat32ValuesAreRoundedToFloat() {
    Tensor host = new Tensor(DType.FLOAT32, new long[] {1}, new double[] {0.1});
    try (OnnxTensor t = Tensors.fromHost(host)) {
      assertEquals((double) 0.1f, Tensors.toHost(t).get(0));
    }
  }
}
