package org.twicing.tests.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** The shared test helpers themselves: they pass good input and, above all, fail on bad input. */
class SupportSelfTest {
  private static byte[] identityModel(DType t) {
    GraphBuilder g = new GraphBuilder("id");
    g.output("y", Ops.identity(g.input("x", TensorType.of(t, "batch", 3))));
    return OnnxEmitter.emit(g.build(), EmitOptions.defaults()).toByteArray();
  }

  /** relErr is max|a-b| / max|b|; allclose is elementwise; NaN never passes. */
  @Test
  void toleranceArithmetic() {
    Tensor b = new Tensor(DType.FLOAT64, new long[] {3}, new double[] {1, -4, 2});
    Tensor a = new Tensor(DType.FLOAT64, new long[] {3}, new double[] {1.5, -4, 2});
    assertEquals(0.5 / 4, Tolerance.relErr(a, b), 1e-15);
    assertEquals(0, Tolerance.relErr(new double[] {0}, new double[] {0}));
    assertTrue(Double.isNaN(Tolerance.relErr(new double[] {Double.NaN}, new double[] {1})));
    assertTrue(Tolerance.allClose(a, b, 0.5, 0));
    assertFalse(Tolerance.allClose(a, b, 0.49, 0));
    assertTrue(Tolerance.allClose(a, b, 0, 0.5));
    assertFalse(Tolerance.allClose(a, b.reshape(3, 1), 1, 1));
    assertThrows(AssertionError.class, () -> Tolerance.assertRelErr(a, b, 0.1, "a"));
    Tolerance.assertRelErr(a, b, 0.2, "a");
    assertThrows(AssertionError.class, () -> Tolerance.assertExact(a, b, "a"));
    assertThrows(AssertionError.class, () -> Tolerance.assertExact(b.cast(DType.INT64), b, "dtype"));
  }

  /** Every supported dtype goes through ONNX Runtime and back unchanged, with the run-time shape. */
  @Test
  void ortRunnerRoundTripsEveryDtype() {
    Map<DType, double[]> data = new LinkedHashMap<>();
    data.put(DType.FLOAT32, new double[] {0.5, -1.25, 3, 1e-3f, 7, -0.0});
    data.put(DType.FLOAT64, new double[] {0.1, -1e-300, 3, Math.PI, 7, 1e300});
    data.put(DType.INT64, new double[] {1L << 40, -3, 0, 5, 6, -(1L << 50)});
    data.put(DType.INT32, new double[] {Integer.MAX_VALUE, Integer.MIN_VALUE, 0, 5, 6, -7});
    data.put(DType.BOOL, new double[] {1, 0, 0, 1, 1, 0});
    data.forEach((t, d) -> {
      Tensor x = new Tensor(t, new long[] {2, 3}, d).roundedToDType();
      Map<String, Tensor> out = OrtRunner.run(identityModel(t), Map.of("x", x));
      assertEquals(List.of("y"), List.copyOf(out.keySet()));
      Tensor y = out.get("y");
      assertEquals(t, y.dtype(), t + " dtype");
      assertEquals(Arrays.toString(x.shape()), Arrays.toString(y.shape()), t + " shape");
      assertTrue(Arrays.equals(x.toDoubles(), y.toDoubles()), t + " values " + Arrays.toString(y.toDoubles()));
    });
  }

  /** Feeding a name the model does not have fails instead of being ignored. */
  @Test
  void ortRunnerRejectsUnknownFeeds() {
    Tensor x = Tensor.zeros(DType.FLOAT32, 2, 3);
    assertThrows(IllegalArgumentException.class,
        () -> OrtRunner.run(identityModel(DType.FLOAT32), Map.of("x", x, "typo", x)));
  }

  /** A valid model passes; a declared shape contradicting inference, or a custom domain, fails. */
  @Test
  void checkerAcceptsGoodAndRejectsBadModels() {
    byte[] good = identityModel(DType.FLOAT32);
    OnnxChecker.check(good);

    ModelProto m = parse(good);
    ModelProto.Builder wrongShape = m.toBuilder();
    wrongShape.getGraphBuilder().getOutputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder()
        .setDim(1, TensorShapeProto.Dimension.newBuilder().setDimValue(4));
    AssertionError e = assertThrows(AssertionError.class, () -> OnnxChecker.check(wrongShape.build().toByteArray()));
    assertTrue(e.getMessage().contains("Identity"), e.getMessage());

    ModelProto.Builder custom = m.toBuilder();
    custom.getGraphBuilder().getNodeBuilder(0).setDomain("com.example");
    custom.addOpsetImport(m.getOpsetImport(0).toBuilder().setDomain("com.example").setVersion(1));
    assertThrows(AssertionError.class, () -> OnnxChecker.assertDefaultDomainOnly(custom.build().toByteArray()));

    assertThrows(AssertionError.class, () -> OnnxChecker.check(new byte[] {1, 2, 3, 4, 5}));
  }

  /**
   * A missing reference skips the test (a JUnit abort) by default and fails it under twicing.requireReferences;
   * an available one does neither.
   */
  @Test
  void missingReferenceSkipsOrFailsByTheProperty() {
    String before = System.getProperty(References.PROPERTY);
    try {
      System.clearProperty(References.PROPERTY);
      References.assume(true, () -> "never built");
      assertThrows(TestAbortedException.class, () -> References.assume(false, () -> "no torch"));
      System.setProperty(References.PROPERTY, "true");
      References.assume(true, () -> "never built");
      AssertionError e = assertThrows(AssertionError.class, () -> References.assume(false, () -> "no torch"));
      assertTrue(e.getMessage().startsWith("no torch") && e.getMessage().contains(References.PROPERTY),
          e.getMessage());
    } finally {
      if (before == null) {
        System.clearProperty(References.PROPERTY);
      } else {
        System.setProperty(References.PROPERTY, before);
      }
    }
  }

  /** Surefire hands the build's twicing.requireReferences (false unless given) to the test JVM. */
  @Test
  void surefirePassesThePropertyThrough() {
    String v = System.getProperty(References.PROPERTY);
    assertTrue("true".equals(v) || "false".equals(v), References.PROPERTY + " = " + v);
  }

  private static ModelProto parse(byte[] b) {
    try {
      return ModelProto.parseFrom(b);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }
}
