package org.twicing.codegen.cost;

import java.util.Map;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;

/**
 * Counts the multiply-adds of a graph's contractions (MatMul, Gemm, Conv) for given sizes of its symbolic
 * dimensions. Elementwise work is not counted: it is memory-bound and small next to the contractions.
 */
public final class FlopCounter {
  private FlopCounter() { }

  /** Multiply-adds of {@code g} with symbolic dims bound by {@code bindings} (e.g. batch=64, T=128). */
  public static long macs(Graph g, Map<String, Long> bindings) {
    long total = 0;
    for (Node n : g.nodes()) {
      switch (n.op().onnxType()) {
        case "MatMul" -> {
          Shape out = n.output(0).shape();
          Shape a = n.input(0).shape();
          total += numel(out, bindings) * a.dim(-1).evaluate(bindings);
        }
        case "Gemm" -> {
          Shape a = n.input(0).shape();
          long k = n.attributes().entries().containsKey("transA")
              && ((Long) n.attributes().entries().get("transA").value()) != 0
              ? a.dim(0).evaluate(bindings) : a.dim(1).evaluate(bindings);
          total += numel(n.output(0).shape(), bindings) * k;
        }
        case "Conv" -> {
          // Each output sums over W's C/group channels and kernel positions, for any number of spatial axes.
          Shape w = n.input(1).shape();
          total += numel(n.output(0).shape(), bindings) * numel(w.slice(1, w.rank()), bindings);
        }
        case "ConvTranspose" -> {
          // Each input element is multiplied into M/group channels times the kernel positions.
          Shape w = n.input(1).shape();
          total += numel(n.input(0).shape(), bindings) * numel(w.slice(1, w.rank()), bindings);
        }
        default -> { }
      }
    }
    return total;
  }

  private static long numel(Shape s, Map<String, Long> bindings) {
    long n = 1;
    for (Dim d : s.dims()) {
      n *= d.evaluate(bindings);
    }
    return n;
  }
}
