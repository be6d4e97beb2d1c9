package org.twicing.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Small DSL graphs shared by the runtime tests, and a tolerance check against the float64 reference. */
final class TestGraphs {
  private TestGraphs() { }

  /** x float32[batch, 4] -> h = relu(x w + b) float32[batch, 3], probs = softmax(h). */
  static Graph mlp() {
    Random rng = new Random(7);
    GraphBuilder g = new GraphBuilder("mlp");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", 4));
    Value w = g.parameter("w", Tensor.randn(DType.FLOAT32, rng, 1.0, 4, 3));
    Value b = g.parameter("b", Tensor.randn(DType.FLOAT32, rng, 0.5, 3));
    Value h = Ops.relu(Ops.add(Ops.matmul(x, w), b));
    g.output("probs", Ops.softmax(h, -1));
    g.output("h", h);
    return g.build();
  }

  /** pixels float32[batch, 3] and labels int64[batch] -> rowSum, labelsAsFloat, score (all float32[batch]). */
  static Graph twoInputs() {
    GraphBuilder g = new GraphBuilder("two_inputs");
    Value pixels = g.input("pixels", TensorType.of(DType.FLOAT32, "batch", 3));
    Value labels = g.input("labels", TensorType.of(DType.INT64, "batch"));
    Value rowSum = Ops.reduceSum(pixels, false, 1);
    Value asFloat = Ops.cast(labels, DType.FLOAT32);
    g.output("rowSum", rowSum);
    g.output("labelsAsFloat", asFloat);
    return g.build();
  }

  /** mask bool[n], a float32[n], k int32[n] -> picked = where(mask, a, -a), twiceK = k + k. */
  static Graph boolAndInt32() {
    GraphBuilder g = new GraphBuilder("bool_int32");
    Value mask = g.input("mask", TensorType.of(DType.BOOL, "n"));
    Value a = g.input("a", TensorType.of(DType.FLOAT32, "n"));
    Value k = g.input("k", TensorType.of(DType.INT32, "n"));
    g.output("picked", Ops.where(mask, a, Ops.neg(a)));
    g.output("twiceK", Ops.add(k, k));
    return g.build();
  }

  /** The serialized ONNX model of {@code graph} with default emit options. */
  static byte[] onnx(Graph graph) {
    return OnnxEmitter.emit(graph, EmitOptions.defaults()).toByteArray();
  }

  /** Asserts dtype and shape are equal and every value is within {@code tol} (absolute + relative). */
  static void assertClose(Tensor expected, Tensor actual, double tol, String what) {
    assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
    assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
    for (int i = 0; i < expected.size(); i++) {
      double e = expected.get(i);
      double a = actual.get(i);
      if (Math.abs(e - a) > tol * (1 + Math.abs(e))) {
        throw new AssertionError(what + ": element " + i + " is " + a + ", reference " + e + " (tol " + tol + ")");
      }
    }
  }
}
