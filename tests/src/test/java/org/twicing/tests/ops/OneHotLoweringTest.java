package org.twicing.tests.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;

/**
 * OneHot's primitive lowering (Equal against a range, then Cast; the emitter's default because ONNX Runtime's
 * OneHot kernel is slower) and the kept op give the float64 evaluator's values in ONNX Runtime: negative indices
 * wrap, out-of-range ones give all "off", on any axis, with 0/1 or label-smoothing values, int64 or int32 indices
 * (int32 only lowered: ONNX Runtime's own OneHot has no kernel for them).
 */
class OneHotLoweringTest {
  private static final long DEPTH = 5;

  private static Graph graph(DType indexType, long axis, float off, float on) {
    GraphBuilder g = new GraphBuilder("one_hot");
    Value idx = g.input("idx", TensorType.of(indexType, 3, 4));
    g.output("hot", Ops.oneHot(idx, DEPTH, Tensor.floats(new long[] {2}, off, on), axis));
    return g.build();
  }

  @ParameterizedTest(name = "{0} axis {1} values {2}/{3}")
  @CsvSource({"INT64, -1, 0, 1", "INT64, 0, 0, 1", "INT64, 1, 0.02, 0.92", "INT32, -1, 0.02, 0.92",
      "INT32, 2, -1, 1"})
  void bothFormsMatchTheEvaluator(DType indexType, long axis, float off, float on) {
    Graph g = graph(indexType, axis, off, on);
    Tensor.Builder idx = Tensor.builder(indexType, 3, 4);
    long[] v = {0, 4, -1, -5, 5, 7, -6, 2, 1, 3, -2, 0};
    for (int i = 0; i < v.length; i++) {
      idx.set(i, v[i]);
    }
    Map<String, Tensor> feeds = Map.of("idx", idx.build());
    Tensor expected = Evaluator.runFloat64(g, feeds).get("hot");
    for (boolean keep : new boolean[] {false, true}) {
      if (keep && indexType == DType.INT32) {
        // ONNX Runtime has no OneHot kernel for int32 indices (with an int64 depth); the lowered form runs them.
        continue;
      }
      ModelProto m = OnnxEmitter.emit(g, EmitOptions.builder().keepFusedOps(keep).build());
      OnnxChecker.check(m.toByteArray());
      assertEquals(keep ? 1 : 0, m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("OneHot"))
          .count(), "keepFusedOps=" + keep);
      Tensor got = OrtRunner.run(m.toByteArray(), feeds).get("hot");
      assertArrayEquals(expected.shape(), got.shape());
      assertArrayEquals(expected.toDoubles(), got.toDoubles(), 1e-7, "keepFusedOps=" + keep);
    }
  }
}
