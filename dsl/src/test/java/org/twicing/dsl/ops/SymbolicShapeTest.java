package org.twicing.dsl.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Shape rules that multiply and divide symbolic dims (Flatten, Reshape with -1): the declared output shape,
 * evaluated under random sizes of its symbols, must be the shape the float64 evaluator computes for inputs of
 * those sizes.
 */
class SymbolicShapeTest {
  /** Builds {@code f} on an input of shape {@code dims}, checks the declared shape, then runs it for random sizes. */
  private static void check(Object[] dims, Function<Value, Value> f, String expected) {
    GraphBuilder g = new GraphBuilder("symbolic");
    Value x = g.input("x", TensorType.of(DType.FLOAT64, dims));
    Value y = f.apply(x);
    g.output("y", y);
    Graph graph = g.build();
    assertEquals(expected, y.shape().toString(), "declared shape");
    Random rng = new Random(expected.hashCode());
    for (int trial = 0; trial < 5; trial++) {
      Map<String, Long> bindings = new LinkedHashMap<>();
      for (String s : List.of("batch", "T")) {
        bindings.put(s, 1L + rng.nextInt(4));
      }
      Shape in = x.shape();
      long[] concrete = new long[in.rank()];
      for (int i = 0; i < concrete.length; i++) {
        concrete[i] = in.dim(i).evaluate(bindings);
      }
      Tensor out = Evaluator.run(graph, Map.of("x", Tensor.randn(DType.FLOAT64, rng, 1.0, concrete))).get("y");
      long[] declared = new long[y.rank()];
      for (int i = 0; i < declared.length; i++) {
        declared[i] = y.shape().dim(i).evaluate(bindings);
      }
      assertArrayEquals(out.shape(), declared, "shape of y for " + bindings);
    }
  }

  @Test
  void flattenMultipliesSymbolsAndSizes() {
    check(new Object[] {"batch", 7, 7, 3}, x -> Ops.flatten(x, 3), "[batch*49, 3]");
    check(new Object[] {"batch", "T", 2}, x -> Ops.flatten(x, 3), "[T*batch*2, 1]");
    check(new Object[] {2, "batch", "T"}, x -> Ops.flatten(x, 2), "[batch*2, T]");
  }

  @Test
  void reshapeDividesOutTheKnownEntries() {
    check(new Object[] {"batch", 7, 7, 3}, x -> Ops.reshape(Ops.flatten(x, 3), -1, 7, 7, 3), "[batch, 7, 7, 3]");
    check(new Object[] {"batch", "T", 6}, x -> Ops.reshape(x, -1, 6), "[T*batch, 6]");
    check(new Object[] {"batch", "T", 6}, x -> Ops.reshape(x, -1, 3), "[T*batch*2, 3]");
    check(new Object[] {"batch", 4, 6}, x -> Ops.reshape(x, 0, -1, 8), "[batch, 3, 8]");
    check(new Object[] {"batch*12"}, x -> Ops.reshape(x, -1, 4), "[batch*3, 4]");
  }

  @Test
  void reshapeThatCannotDivideFailsNamingTheShapes() {
    GraphBuilder g = new GraphBuilder("bad");
    Value x = g.input("x", TensorType.of(DType.FLOAT64, "batch", 12));
    RuntimeException e = assertThrows(RuntimeException.class, () -> Ops.reshape(x, -1, 8));
    assertTrue(e.getMessage().contains("[batch, 12]") && e.getMessage().contains("do not divide"), e.getMessage());
    Value z = g.input("z", TensorType.of(DType.FLOAT64, "batch", 6));
    RuntimeException f = assertThrows(RuntimeException.class, () -> Ops.reshape(z, 0, 7));
    assertTrue(f.getMessage().contains("batch*6") && f.getMessage().contains("batch*7"), f.getMessage());
  }

  @Test
  void productDimsOfInputsReadAsProducts() {
    assertEquals(List.of(Dim.sym("batch").times(Dim.of(12))), TensorType.of(DType.FLOAT64, "12*batch").shape().dims());
  }
}
