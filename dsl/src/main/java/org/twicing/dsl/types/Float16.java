package org.twicing.dsl.types;

/**
 * Conversions between float64 values and the 16-bit IEEE half ({@code float16}) and brain ({@code bfloat16})
 * formats. Rounding goes straight from the double to the 16-bit format, to nearest with ties to even; going
 * through {@code float} first would round twice and can land one unit off on values just above a tie.
 */
public final class Float16 {
  private Float16() { }

  /** The IEEE binary16 bits nearest to {@code value} (ties to even; overflow gives infinity; NaN stays NaN). */
  public static short toFloat16Bits(double value) {
    return (short) roundToBits(value, 5, 10);
  }

  /** The bfloat16 bits nearest to {@code value} (ties to even; overflow gives infinity; NaN stays NaN). */
  public static short toBFloat16Bits(double value) {
    return (short) roundToBits(value, 8, 7);
  }

  /** The exact value of IEEE binary16 {@code bits}. */
  public static double fromFloat16Bits(short bits) {
    int sign = (bits & 0x8000) != 0 ? -1 : 1;
    int exponent = (bits >>> 10) & 0x1f;
    int mantissa = bits & 0x3ff;
    if (exponent == 0x1f) {
      return mantissa == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
    }
    if (exponent == 0) {
      // Subnormal: mantissa counts units of 2^-24; the sign keeps -0.0 distinct from 0.0.
      return sign * Math.scalb((double) mantissa, -24);
    }
    return sign * Math.scalb(1024.0 + mantissa, exponent - 15 - 10);
  }

  /** The exact value of bfloat16 {@code bits} (the top half of a float32). */
  public static double fromBFloat16Bits(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /**
   * Rounds {@code value} to a binary format with {@code exponentBits} exponent and {@code mantissaBits} stored
   * mantissa bits, returning its bit pattern. Scaling by powers of two is exact in double, so {@link Math#rint}
   * (round half to even) on the scaled value performs the one and only rounding.
   */
  private static int roundToBits(double value, int exponentBits, int mantissaBits) {
    int signBit = (Double.doubleToRawLongBits(value) < 0 ? 1 : 0) << (exponentBits + mantissaBits);
    int infinity = ((1 << exponentBits) - 1) << mantissaBits;
    if (Double.isNaN(value)) {
      return signBit | infinity | (1 << (mantissaBits - 1)); // a quiet NaN
    }
    double a = Math.abs(value);
    int bias = (1 << (exponentBits - 1)) - 1;
    int minExponent = 1 - bias;
    if (a < Math.scalb(1.0, minExponent)) {
      // Subnormal range: count units of the smallest subnormal. A result of 2^mantissaBits is exactly the
      // encoding of the smallest normal number, so no special case is needed.
      return signBit | (int) Math.rint(Math.scalb(a, mantissaBits - minExponent));
    }
    if (Double.isInfinite(a)) {
      return signBit | infinity;
    }
    int exponent = Math.getExponent(a);
    long significand = (long) Math.rint(Math.scalb(a, mantissaBits - exponent));
    if (significand == 1L << (mantissaBits + 1)) {
      significand >>= 1; // rounding carried into the next binade
      exponent++;
    }
    if (exponent > bias) {
      return signBit | infinity;
    }
    return signBit | ((exponent + bias) << mantissaBits) | (int) (significand - (1L << mantissaBits));
  }
}
