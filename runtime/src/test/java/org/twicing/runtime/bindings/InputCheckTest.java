package org.twicing.runtime.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorSpec;
import org.twicing.dsl.types.TensorType;

/** The shape checks generated bindings run before ONNX Runtime sees an input, and their messages. */
class InputCheckTest {
  private static final TensorSpec PIXELS = TensorSpec.of("pixels", DType.FLOAT32, "batch", 1, 2, 3);
  private static final TensorSpec LABELS = TensorSpec.of("labels", DType.INT64, "batch");
  private static final TensorSpec ANY = TensorSpec.of("any", DType.FLOAT32, "?", "?");

  @Test
  void rectangularArraysPassAndGiveTheirShape() {
    assertArrayEquals(new long[] {4, 1, 2, 3}, new InputCheck("m").array(PIXELS, new float[4][1][2][3]));
    // Anonymous dims bind to nothing: they may differ from each other.
    assertArrayEquals(new long[] {2, 5}, new InputCheck("m").array(ANY, new float[2][5]));
  }

  @Test
  void raggedArrayNamesTheRowAndBothShapes() {
    float[][][][] x = new float[2][1][2][3];
    x[1][0][1] = new float[2];
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new InputCheck("vit-micro").array(PIXELS, x));
    assertEquals("input 'pixels' of vit-micro is ragged: pixels[1][0][1] has length 2 but pixels[0][0][0] has "
        + "length 3; expected shape [batch, 1, 2, 3], actual shape [2, 1, 2, 3] along the first rows",
        e.getMessage());
  }

  @Test
  void nullArraysAndRowsAreNamed() {
    float[][][][] x = new float[2][1][2][3];
    x[1][0] = null;
    assertEquals("input 'pixels' of m has a null row at pixels[1][0]; expected shape [batch, 1, 2, 3], actual "
        + "shape [2, 1, 2, 3] along the first rows",
        assertThrows(IllegalArgumentException.class, () -> new InputCheck("m").array(PIXELS, x)).getMessage());
    assertEquals("input 'pixels' of m is null; expected float32[batch, 1, 2, 3]",
        assertThrows(IllegalArgumentException.class, () -> new InputCheck("m").array(PIXELS, null)).getMessage());
  }

  @Test
  void zeroLengthDimensionThatHidesLowerSizesIsExplained() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new InputCheck("m").array(PIXELS, new float[0][][][]));
    assertEquals("input 'pixels' of m has length 0 at pixels, which hides the sizes of dimensions 1..3; expected "
        + "shape [batch, 1, 2, 3], actual shape [0, ?, ?, ?]; feed arrays with a zero-length dimension through "
        + "the buffer overload, which takes an explicit shape", e.getMessage());
    // Through a buffer, an empty batch is fine.
    new InputCheck("m").buffer(PIXELS, FloatBuffer.allocate(0), new long[] {0, 1, 2, 3});
  }

  @Test
  void fixedDimensionMismatchGivesExpectedAndActualShape() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new InputCheck("vit-micro").array(PIXELS, new float[2][1][3][3]));
    assertEquals("input 'pixels' of vit-micro has shape [2, 1, 3, 3] but expects [batch, 1, 2, 3]: dimension 2 "
        + "is 3, not 2", e.getMessage());
  }

  @Test
  void symbolicDimensionMustAgreeAcrossInputs() {
    InputCheck check = new InputCheck("vit-micro");
    check.array(PIXELS, new float[2][1][2][3]);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> check.array(LABELS, new long[3]));
    assertEquals("input 'labels' of vit-micro has shape [3] but expects [batch]: dimension 0 (batch) is 3, but "
        + "batch is 2 in input 'pixels' (shape [2, 1, 2, 3])", e.getMessage());
  }

  @Test
  void symbolicDimensionMustAgreeWithinOneInput() {
    TensorSpec square = TensorSpec.of("m", DType.FLOAT32, "n", "n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new InputCheck("sq").array(square, new float[2][3]));
    assertEquals("input 'm' of sq has shape [2, 3] but expects [n, n]: dimension 1 (n) is 3, but n is 2 in "
        + "dimension 0", e.getMessage());
  }

  @Test
  void buffersAreCheckedForRankCountAndDims() {
    InputCheck check = new InputCheck("m");
    assertArrayEquals(new long[] {2, 1, 2, 3}, check.buffer(PIXELS, FloatBuffer.allocate(12),
        new long[] {2, 1, 2, 3}));
    assertEquals("input 'pixels' of m has shape [2, 6] but expects [batch, 1, 2, 3]: rank 2, not 4",
        assertThrows(IllegalArgumentException.class,
            () -> new InputCheck("m").buffer(PIXELS, FloatBuffer.allocate(12), new long[] {2, 6})).getMessage());
    assertEquals("input 'pixels' of m has shape [2, 1, 2, 3] (12 elements) but its FloatBuffer has 11 remaining",
        assertThrows(IllegalArgumentException.class, () -> new InputCheck("m").buffer(PIXELS,
            FloatBuffer.allocate(11), new long[] {2, 1, 2, 3})).getMessage());
    assertEquals("input 'labels' of m has shape [3] but expects [batch]: dimension 0 (batch) is 3, but batch is 2 "
        + "in input 'pixels' (shape [2, 1, 2, 3])", assertThrows(IllegalArgumentException.class,
            () -> check.buffer(LABELS, LongBuffer.allocate(3), new long[] {3})).getMessage());
    assertEquals("input 'labels' of m was given no shape (null); expected shape [batch]",
        assertThrows(IllegalArgumentException.class,
            () -> new InputCheck("m").buffer(LABELS, LongBuffer.allocate(3), null)).getMessage());
  }

  @Test
  void signatureNamesEveryDifference() {
    Signature s = new Signature(List.of(PIXELS), List.of(TensorSpec.of("logits", DType.FLOAT32, "batch", 3)));
    s.check("model 'm'", Map.of("pixels", PIXELS.type()), Map.of("logits", TensorType.of(DType.FLOAT32, "b", 3)),
        true);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.check("model 'm'",
        Map.of("pixels", TensorType.of(DType.FLOAT32, "batch", 1, 2, 4), "extra", LABELS.type()),
        Map.of("logits", TensorType.of(DType.INT64, "batch", 3)), true));
    String msg = e.getMessage();
    for (String part : List.of("input 'pixels' is float32[batch, 1, 2, 4], expected float32[batch, 1, 2, 3]",
        "extra input 'extra' int64[batch]", "output 'logits' is int64[batch, 3], expected float32[batch, 3]")) {
      assertTrue(msg.contains(part), msg);
    }
  }
}
