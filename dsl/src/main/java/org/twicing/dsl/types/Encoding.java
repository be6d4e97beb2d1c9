package org.twicing.dsl.types;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Converts tensors to and from raw little-endian bytes in their declared dtype (ONNX raw_data, safetensors). */
public final class Encoding {
  private Encoding() { }

  /** The tensor's values as little-endian bytes of its dtype. */
  public static byte[] toBytes(Tensor t) {
    ByteBuffer b = ByteBuffer.allocate(t.size() * t.dtype().byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    double[] d = t.data();
    switch (t.dtype()) {
      case FLOAT32 -> {
        for (double v : d) {
          b.putFloat((float) v);
        }
      }
      case FLOAT64 -> {
        for (double v : d) {
          b.putDouble(v);
        }
      }
      case FLOAT16 -> {
        for (double v : d) {
          b.putShort(toHalf((float) v));
        }
      }
      case BFLOAT16 -> {
        for (double v : d) {
          b.putShort(toBfloat16((float) v));
        }
      }
      case INT64 -> {
        for (double v : d) {
          b.putLong((long) v);
        }
      }
      case INT32 -> {
        for (double v : d) {
          b.putInt((int) v);
        }
      }
      case BOOL -> {
        for (double v : d) {
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
      throw new IllegalArgumentException("a " + dtype + java.util.Arrays.toString(shape) + " tensor needs "
          + (long) n * dtype.byteSize() + " bytes, got " + b.remaining());
    }
    double[] d = new double[n];
    for (int i = 0; i < n; i++) {
      d[i] = switch (dtype) {
        case FLOAT32 -> b.getFloat();
        case FLOAT64 -> b.getDouble();
        case FLOAT16 -> fromHalf(b.getShort());
        case BFLOAT16 -> Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
        case INT64 -> b.getLong();
        case INT32 -> b.getInt();
        case BOOL -> b.get() != 0 ? 1 : 0;
      };
    }
    return new Tensor(dtype, shape, d);
  }

  /** IEEE half precision bits of {@code f}, rounding to nearest even. */
  public static short toHalf(float f) {
    int bits = Float.floatToRawIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exp = (bits >>> 23) & 0xff;
    int mant = bits & 0x7fffff;
    if (exp == 0xff) {
      return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
    }
    int e = exp - 127 + 15;
    if (e >= 0x1f) {
      return (short) (sign | 0x7c00);
    }
    if (e <= 0) {
      if (e < -10) {
        return (short) sign;
      }
      mant |= 0x800000;
      int shift = 14 - e;
      int half = mant >> shift;
      int rem = mant & ((1 << shift) - 1);
      int mid = 1 << (shift - 1);
      if (rem > mid || (rem == mid && (half & 1) != 0)) {
        half++;
      }
      return (short) (sign | half);
    }
    int half = (e << 10) | (mant >> 13);
    int rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
      half++;
    }
    return (short) (sign | half);
  }

  /** The float value of IEEE half precision bits. */
  public static float fromHalf(short h) {
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      float v = mant / 1024f / 16384f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
  }

  /** bfloat16 bits of {@code f}, rounding to nearest even. */
  public static short toBfloat16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if (Float.isNaN(f)) {
      return (short) 0x7fc0;
    }
    int lsb = (bits >>> 16) & 1;
    return (short) ((bits + 0x7fff + lsb) >>> 16);
  }
}
