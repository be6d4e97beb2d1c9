package org.twicing.dsl.types;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Checks 16-bit conversions against hand-derived IEEE bit patterns, including ties and double-rounding traps. */
class Float16Test {
  private static void assertHalf(int expectedBits, double value) {
    assertEquals(String.format("0x%04x", expectedBits),
        String.format("0x%04x", Float16.toFloat16Bits(value) & 0xffff), "float16 of " + value);
  }

  private static void assertBfloat(int expectedBits, double value) {
    assertEquals(String.format("0x%04x", expectedBits),
        String.format("0x%04x", Float16.toBFloat16Bits(value) & 0xffff), "bfloat16 of " + value);
  }

  @Test
  void float16RoundsToNearestEvenStraightFromDouble() {
    assertHalf(0x3c00, 1.0);
    assertHalf(0xc000, -2.0);
    assertHalf(0x0000, 0.0);
    assertHalf(0x8000, -0.0);
    assertHalf(0x7bff, 65504.0); // largest finite half
    assertHalf(0x7bff, 65519.99);
    assertHalf(0x7c00, 65520.0); // the tie above the largest finite rounds to the even neighbour: infinity
    assertHalf(0xfc00, Double.NEGATIVE_INFINITY);
    assertHalf(0x0001, 0x1p-24); // smallest subnormal
    assertHalf(0x0000, 0x1p-25); // tie between 0 and the smallest subnormal goes to even 0
    assertHalf(0x0002, 3 * 0x1p-25); // 1.5 units ties to even 2
    assertHalf(0x0400, 0x1p-14); // smallest normal
    assertHalf(0x0400, 0x1p-14 - 0x1p-25); // 1023.5 subnormal units carries into the smallest normal
    assertHalf(0x3c00, 1 + 0x1p-11); // tie to even
    assertHalf(0x3c02, 1 + 3 * 0x1p-11); // tie to even, upwards
    // Just above a tie: a float32 detour would drop 2^-40, see an exact tie and wrongly round down.
    assertHalf(0x3c01, 1 + 0x1p-11 + 0x1p-40);
    assertHalf(0x0001, 0x1p-25 + 0x1p-40);
    assertHalf(0x3555, 1.0 / 3.0);
    int nan = Float16.toFloat16Bits(Double.NaN) & 0xffff;
    assertTrue((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0, "NaN stays NaN: " + Integer.toHexString(nan));
  }

  @Test
  void bfloat16RoundsToNearestEvenStraightFromDouble() {
    assertBfloat(0x3f80, 1.0);
    assertBfloat(0x3f80, 1 + 0x1p-8); // tie to even
    assertBfloat(0x3f82, 1 + 3 * 0x1p-8);
    assertBfloat(0x3f81, 1 + 0x1p-8 + 0x1p-30); // float32 detour would round this tie-plus-epsilon down
    assertBfloat(0x7f7f, 3.3895313892515355e38); // largest finite bfloat16
    assertBfloat(0x7f80, 3.4e38); // beyond the midpoint to 2^128: infinity
    assertBfloat(0x0001, 0x1p-133); // smallest subnormal
    assertBfloat(0x8000, -0.0);
    assertBfloat(0xc040, -3.0);
    int nan = Float16.toBFloat16Bits(Double.NaN) & 0xffff;
    assertTrue((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0, "NaN stays NaN: " + Integer.toHexString(nan));
  }

  @Test
  void decodesExactValues() {
    assertEquals(0x1p-24, Float16.fromFloat16Bits((short) 0x0001));
    assertEquals(65504.0, Float16.fromFloat16Bits((short) 0x7bff));
    assertEquals(0.333251953125, Float16.fromFloat16Bits((short) 0x3555));
    assertEquals(Double.NEGATIVE_INFINITY, Float16.fromFloat16Bits((short) 0xfc00));
    assertEquals(-0.0, Float16.fromFloat16Bits((short) 0x8000));
    assertTrue(Double.isNaN(Float16.fromFloat16Bits((short) 0x7e00)));
    assertEquals(1.0078125, Float16.fromBFloat16Bits((short) 0x3f81));
    assertEquals(0x1p-133, Float16.fromBFloat16Bits((short) 0x0001));
  }

  @Test
  void everyHalfPatternSurvivesDecodeThenEncode() {
    for (int bits = 0; bits < 0x10000; bits++) {
      double v = Float16.fromFloat16Bits((short) bits);
      if (Double.isNaN(v)) {
        continue;
      }
      assertEquals(bits, Float16.toFloat16Bits(v) & 0xffff, "half pattern " + Integer.toHexString(bits));
      double b = Float16.fromBFloat16Bits((short) bits);
      if (!Double.isNaN(b)) {
        assertEquals(bits, Float16.toBFloat16Bits(b) & 0xffff, "bfloat16 pattern " + Integer.toHexString(bits));
      }
    }
  }
}
