package org.twicing.dsl.types;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/** Converts tensors to and from raw little-endian bytes in their declared dtype (ONNX raw_data, safetensors). */
public final class Encoding {
  private Encoding() { }

  /** The tensor's values as little-endian bytes of its dtype. */
  public static byte[] toBytes(Tensor t) {
    ByteBuffer b = ByteBuffer.allocate(t.size() * t.dtype().byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    int n = t.size();
    switch (t.dtype()) {
      case FLOAT32 -> {
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.putFloat((float) v);
        }
      }
      case FLOAT64 -> {
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.putDouble(v);
        }
      }
      case FLOAT16 -> {
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.putShort(Float16.toFloat16Bits(v));
        }
      }
      case BFLOAT16 -> {
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.putShort(Float16.toBFloat16Bits(v));
        }
      }
      case INT64 -> {
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.putLong((long) v);
        }
      }
      case INT32 -> {
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.putInt((int) v);
        }
      }
      case BOOL -> {
        for (int i = 0; i < n; i++) {
          double v = t.get(i);
          b.put((byte) (v != 0 ? 1 : 0));
        }
      }
      default -> throw new IllegalStateException("unhandled dtype " + t.dtype());
    }
    return b.array();
  }

  /** A tensor read from little-endian bytes (the buffer's remaining bytes, from its position). */
  public static Tensor fromBytes(DType dtype, long[] shape, ByteBuffer src) {
    ByteBuffer b = src.slice().order(ByteOrder.LITTLE_ENDIAN);
    int n = Math.toIntExact(Tensor.numel(shape));
    if ((long) n * dtype.byteSize() != b.remaining()) {
      throw new IllegalArgumentException("a " + dtype + Arrays.toString(shape) + " tensor needs "
          + (long) n * dtype.byteSize() + " bytes, got " + b.remaining());
    }
    Tensor.Builder d = Tensor.builder(dtype, shape);
    for (int i = 0; i < n; i++) {
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
