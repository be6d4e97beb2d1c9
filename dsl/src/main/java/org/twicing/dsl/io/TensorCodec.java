package org.twicing.dsl.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Float16;
import org.twicing.dsl.types.Tensor;

/** Encodes float64-held tensor values as little-endian bytes of their dtype, and decodes them back. */
final class TensorCodec {
  private TensorCodec() { }

  /**
   * Checks that every value of {@code t} can be stored in its dtype, so that failures surface when a tensor is
   * added rather than half-way through writing a file. Returns a description of the first bad value, or null.
   */
  static String firstUnrepresentable(Tensor t) {
    if (t.dtype() == DType.INT64 || t.dtype() == DType.INT32) {
      double lo = t.dtype() == DType.INT64 ? -0x1p63 : Integer.MIN_VALUE;
      double hi = t.dtype() == DType.INT64 ? 0x1p63 : Integer.MAX_VALUE + 1.0;
      for (int i = 0; i < t.size(); i++) {
        // Truncation toward zero matches Tensor.roundedToDType; the range check stops silent saturation.
        double v = t.get(i);
        if (Double.isNaN(v) || v <= lo - 1 || v >= hi) {
          return "element " + i + " = " + v + " does not fit in " + t.dtype();
        }
      }
    }
    return null;
  }

  /** Writes elements [from, to) of {@code t} into {@code out} as little-endian bytes of its dtype. */
  static void encode(Tensor t, int from, int to, ByteBuffer out) {
    ByteBuffer b = out.order(ByteOrder.LITTLE_ENDIAN);
    switch (t.dtype()) {
      case FLOAT32 -> {
        for (int i = from; i < to; i++) {
          b.putFloat((float) t.get(i));
        }
      }
      case FLOAT64 -> {
        for (int i = from; i < to; i++) {
          b.putDouble(t.get(i));
        }
      }
      case FLOAT16 -> {
        for (int i = from; i < to; i++) {
          b.putShort(Float16.toFloat16Bits(t.get(i)));
        }
      }
      case BFLOAT16 -> {
        for (int i = from; i < to; i++) {
          b.putShort(Float16.toBFloat16Bits(t.get(i)));
        }
      }
      case INT64 -> {
        for (int i = from; i < to; i++) {
          b.putLong((long) t.get(i));
        }
      }
      case INT32 -> {
        for (int i = from; i < to; i++) {
          b.putInt((int) (long) t.get(i));
        }
      }
      case BOOL -> {
        for (int i = from; i < to; i++) {
          b.put((byte) (t.get(i) != 0 ? 1 : 0));
        }
      }
      default -> throw new IllegalStateException("unhandled dtype " + t.dtype());
    }
  }

  /** Decodes a tensor from exactly numel(shape) little-endian elements at {@code src}'s position. */
  static Tensor decode(DType dtype, long[] shape, ByteBuffer src) {
    ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    Tensor.Builder d = Tensor.builder(dtype, shape);
    for (int i = 0; i < d.size(); i++) {
      d.set(i, switch (dtype) {
        case FLOAT32 -> b.getFloat();
        case FLOAT64 -> b.getDouble();
        case FLOAT16 -> Float16.fromFloat16Bits(b.getShort());
        case BFLOAT16 -> Float16.fromBFloat16Bits(b.getShort());
        case INT64 -> b.getLong();
        case INT32 -> b.getInt();
        case BOOL -> b.get() != 0 ? 1 : 0;
      });
    }
    return d.build();
  }
}
