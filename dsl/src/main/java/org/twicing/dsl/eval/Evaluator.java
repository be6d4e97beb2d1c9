package org.twicing.dsl.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;

/**
 * Runs a graph in plain Java float64 using each op's reference semantics: the independent oracle for ONNX
 * Runtime results, and a runtime for ops and dtypes ONNX Runtime's CPU provider lacks (float64 Erf, Conv, Pow).
 */
public final class Evaluator {
  private Evaluator() { }

  /**
   * Evaluates {@code graph}. {@code feeds} maps input names (and, optionally, parameter names to override their
   * stored values) to tensors; the result maps each output name to its value. Every op's results are rounded
   * to their dtype, as the dtypes store them ({@link Rounding#TO_DTYPE}).
   */
  public static Map<String, Tensor> run(Graph graph, Map<String, Tensor> feeds) {
    return run(graph, feeds, Rounding.TO_DTYPE);
  }

  /**
   * Evaluates {@code graph} with each op's results brought to their dtype under {@code rounding}; see
   * {@link #run(Graph, Map)} for {@code feeds} and the result.
   */
  public static Map<String, Tensor> run(Graph graph, Map<String, Tensor> feeds, Rounding rounding) {
    Map<Value, Tensor> env = evaluateAll(graph, feeds, rounding);
    Map<String, Tensor> out = new LinkedHashMap<>();
    graph.outputs().forEach((name, v) -> out.put(name, env.get(v)));
    return out;
  }

  /**
   * Like {@link #run}, but in exact float64 arithmetic: float32 (and float16) results are not rounded to their
   * dtype after each op, so a float32 graph is evaluated as if all its float values were float64 (for
   * finite-difference checks and float64 references of float32 models), that is {@link Rounding#KEEP_FLOAT64}.
   * Feeds are used as given.
   */
  public static Map<String, Tensor> runFloat64(Graph graph, Map<String, Tensor> feeds) {
    return run(graph, feeds, Rounding.KEEP_FLOAT64);
  }

  /**
   * Evaluates every node, rounding results under {@code rounding}, and returns the value of everything computed
   * (for tests that probe internals).
   */
  public static Map<Value, Tensor> evaluateAll(Graph graph, Map<String, Tensor> feeds, Rounding rounding) {
    Map<Value, Tensor> env = new HashMap<>();
    for (Value in : graph.inputs()) {
      Tensor t = feeds.get(in.name());
      if (t == null) {
        throw new IllegalArgumentException("no value fed for graph input '" + in.name() + "' " + in.type());
      }
      checkType(in, t);
      env.put(in, t);
    }
    graph.parameters().forEach((p, t) -> {
      Tensor fed = feeds.get(p.name());
      if (fed != null) {
        checkType(p, fed);
      }
      env.put(p, fed != null ? fed : t);
    });
    for (Node n : graph.nodes()) {
      List<Tensor> args = new ArrayList<>();
      for (Value v : n.inputs()) {
        if (v == null) {
          args.add(null);
          continue;
        }
        Tensor t = env.get(v);
        if (t == null) {
          throw new IllegalStateException("node " + n.name() + " reads '" + v.name() + "' before it is computed");
        }
        args.add(t);
      }
      List<Tensor> res;
      try {
        res = n.op().evaluate(args, n.attributes(), rounding);
      } catch (RuntimeException e) {
        throw new IllegalStateException("reference evaluation of node " + n.name() + " (" + n.op().onnxType()
            + ") failed: " + e.getMessage(), e);
      }
      for (int i = 0; i < n.outputs().size(); i++) {
        env.put(n.output(i), res.get(i));
      }
    }
    return env;
  }

  private static void checkType(Value v, Tensor t) {
    if (t.dtype() != v.dtype()) {
      throw new IllegalArgumentException("value fed for '" + v.name() + "' has dtype " + t.dtype() + ", expected "
          + v.dtype());
    }
    List<Dim> dims = v.shape().dims();
    long[] s = t.shape();
    boolean ok = dims.size() == s.length;
    for (int i = 0; ok && i < s.length; i++) {
      ok = !dims.get(i).isFixed() || dims.get(i).size() == s[i];
    }
    if (!ok) {
      throw new IllegalArgumentException("value fed for '" + v.name() + "' has shape "
          + Arrays.toString(s) + ", expected " + v.shape());
    }
  }
}
