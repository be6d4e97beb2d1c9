package org.twicing.dsl.types;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** A tensor owns its values: arrays given to it or taken from it, and builders once built, cannot change it. */
class TensorTest {
  @Test
  void changingTheArrayPassedInDoesNotChangeTheTensor() {
    double[] values = {1, 2, 3, 4};
    long[] shape = {2, 2};
    Tensor t = new Tensor(DType.FLOAT64, shape, values);
    values[0] = 99;
    shape[0] = 4;
    assertArrayEquals(new double[] {1, 2, 3, 4}, t.toDoubles());
    assertArrayEquals(new long[] {2, 2}, t.shape());
  }

  @Test
  void changingArraysTakenOutDoesNotChangeTheTensor() {
    Tensor t = new Tensor(DType.FLOAT64, new long[] {3}, new double[] {1.5, -2, 7});
    t.toDoubles()[1] = 99;
    t.shape()[0] = 1;
    double[] some = new double[5];
    t.copyTo(1, some, 2, 2);
    some[2] = 42;
    assertArrayEquals(new double[] {1.5, -2, 7}, t.toDoubles());
    assertArrayEquals(new double[] {0, 0, 42, 7, 0}, some);
    assertEquals(-2, t.get(1));
    assertArrayEquals(new long[] {3}, t.shape());
  }

  @Test
  void derivedTensorsLeaveTheOriginalAlone() {
    Tensor t = new Tensor(DType.FLOAT32, new long[] {2, 2}, new double[] {0.1, 1.9, -2.5, 3});
    Tensor rounded = t.roundedToDType();
    Tensor asInt = t.cast(DType.INT64);
    Tensor reshaped = t.reshape(4);
    // The old roundedToDType rounded the receiver in place; now the original keeps its float64 values.
    assertArrayEquals(new double[] {0.1, 1.9, -2.5, 3}, t.toDoubles());
    assertArrayEquals(new double[] {(float) 0.1, (float) 1.9, -2.5, 3}, rounded.toDoubles());
    assertArrayEquals(new double[] {0, 1, -2, 3}, asInt.toDoubles());
    assertArrayEquals(new long[] {4}, reshaped.shape());
    assertArrayEquals(t.toDoubles(), reshaped.toDoubles());
    assertEquals(t, t.rounded(Rounding.KEEP_FLOAT64), "keeping float64 leaves float32 values as they are");
    assertThrows(IllegalArgumentException.class, () -> t.reshape(3));
  }

  @Test
  void builderResultsMatchPlainArrays() {
    Random rng = new Random(3);
    long[] shape = {3, 4};
    double[] expected = new double[12];
    Tensor.Builder b = Tensor.builder(DType.FLOAT64, shape);
    for (int i = 0; i < expected.length; i++) {
      double v = rng.nextGaussian();
      expected[i] = v;
      b.set(i, v);
    }
    for (int i = 0; i < expected.length; i += 3) {
      expected[i] += 0.25;
      b.add(i, 0.25);
    }
    assertEquals(expected[5], b.get(5));
    Tensor built = b.build();
    assertArrayEquals(expected, built.toDoubles());
    assertArrayEquals(shape, built.shape());

    Tensor copied = Tensor.builder(DType.FLOAT64, 2, 3).fill(-1).copyFrom(built, 4, 1, 3).build();
    assertArrayEquals(new double[] {-1, expected[4], expected[5], expected[6], -1, -1}, copied.toDoubles());

    Tensor fromFunction = Tensor.build(DType.INT64, new long[] {2, 2}, i -> i * i);
    assertArrayEquals(new long[] {0, 1, 4, 9}, fromFunction.toLongs());
  }

  @Test
  void builderRoundsOnlyUnderToDType() {
    double third = 1.0 / 3;
    Tensor.Builder a = Tensor.builder(DType.FLOAT32, 2);
    a.set(0, third);
    a.set(1, -2.75);
    Tensor.Builder b = Tensor.builder(DType.FLOAT32, 2);
    b.set(0, third);
    b.set(1, -2.75);
    assertArrayEquals(new double[] {(float) third, -2.75}, a.build(Rounding.TO_DTYPE).toDoubles());
    assertArrayEquals(new double[] {third, -2.75}, b.build(Rounding.KEEP_FLOAT64).toDoubles());
    Tensor.Builder ints = Tensor.builder(DType.INT32, 3);
    ints.set(0, 2.9);
    ints.set(1, -2.9);
    ints.set(2, 7);
    assertArrayEquals(new double[] {2, -2, 7}, ints.build(Rounding.KEEP_FLOAT64).toDoubles(),
        "integers are truncated under either policy");
  }

  @Test
  void aBuilderCannotChangeTheTensorItBuilt() {
    Tensor.Builder b = Tensor.builder(DType.FLOAT64, 2);
    b.set(0, 5);
    Tensor t = b.build();
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.set(0, 6));
    assertTrue(e.getMessage().contains("after build()"), e.getMessage());
    assertThrows(IllegalStateException.class, b::build);
    assertArrayEquals(new double[] {5, 0}, t.toDoubles());
  }

  @Test
  void equalityIsByDtypeShapeAndValues() {
    Tensor a = new Tensor(DType.FLOAT32, new long[] {2}, new double[] {1, 2});
    assertEquals(a, new Tensor(DType.FLOAT32, new long[] {2}, new double[] {1, 2}));
    assertEquals(a.hashCode(), new Tensor(DType.FLOAT32, new long[] {2}, new double[] {1, 2}).hashCode());
    assertNotEquals(a, new Tensor(DType.FLOAT64, new long[] {2}, new double[] {1, 2}));
    assertNotEquals(a, new Tensor(DType.FLOAT32, new long[] {1, 2}, new double[] {1, 2}));
    assertNotEquals(a, new Tensor(DType.FLOAT32, new long[] {2}, new double[] {1, 3}));
  }

  @Test
  void aShapeThatDoesNotFitTheValuesIsRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Tensor(DType.FLOAT32, new long[] {2, 2}, new double[3]));
    assertTrue(e.getMessage().contains("[2, 2] needs 4 values, got 3"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Tensor.builder(DType.FLOAT32, 2, -1));
  }
}
