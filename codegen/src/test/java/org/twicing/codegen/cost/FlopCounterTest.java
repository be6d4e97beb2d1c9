package org.twicing.codegen.cost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Multiply-adds of MatMuls over symbolic and product dims, against the count m*k*n done by hand in longs. */
class FlopCounterTest {
  @Test
  void matmulOverAProductDimCountsEveryRow() {
    GraphBuilder g = new GraphBuilder("flops");
    Random rng = new Random(5);
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", 7, 7, 3));
    Value rows = Ops.flatten(x, 3); // [batch*49, 3]
    Value w = g.parameter("w", Tensor.randn(DType.FLOAT32, rng, 1.0, 3, 4));
    Value h = g.input("h", TensorType.of(DType.FLOAT32, "batch", "T", 8));
    Value v = g.parameter("v", Tensor.randn(DType.FLOAT32, rng, 1.0, 8, 5));
    g.output("y", Ops.matmul(rows, w));
    g.output("z", Ops.matmul(h, v));
    Graph graph = g.build();
    for (long batch = 1; batch <= 5; batch++) {
      for (long t = 1; t <= 3; t++) {
        long expected = batch * 49 * 3 * 4 + batch * t * 8 * 5;
        assertEquals(expected, FlopCounter.macs(graph, Map.of("batch", batch, "T", t)), "batch=" + batch + " T=" + t);
      }
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FlopCounter.macs(graph, Map.of("batch", 2L)));
    assertTrue(e.getMessage().contains("'T'"), e.getMessage());
  }
}
