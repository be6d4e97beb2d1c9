package org.twicing.codegen.autodiff;

import static org.twicing.dsl.ops.Ops.add;
import static org.twicing.dsl.ops.Ops.constantLike;
import static org.twicing.dsl.ops.Ops.zerosLike;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.Tensor;

/**
 * Reverse-mode differentiation over the IR. Gradient nodes are appended to the same builder, built from each
 * op's own gradient rule. Only nodes on a path from a requested value to the loss are differentiated; integer
 * and boolean values never receive gradients; a value used several times (A in a twicing head) sums its
 * contributions.
 */
public final class Autodiff {
  private Autodiff() { }

  /**
   * The gradients of scalar {@code loss} with respect to each of {@code wrt} (zeros for values the loss does not
   * depend on), keyed by the requested value, in request order.
   */
  public static Map<Value, Value> gradients(Value loss, List<Value> wrt) {
    if (loss.rank() != 0 || !loss.dtype().isFloating()) {
      throw new IllegalArgumentException("the loss must be a floating-point scalar, got " + loss);
    }
    GraphBuilder g = loss.graph();
    List<Node> nodes = new ArrayList<>(g.nodes());
    // Values that depend on some requested value (forward reachability).
    Set<Value> dependsOnWrt = new HashSet<>();
    for (Value w : wrt) {
      if (w.dtype().isFloating()) {
        dependsOnWrt.add(w);
      }
    }
    for (Node n : nodes) {
      boolean any = n.inputs().stream().anyMatch(v -> v != null && dependsOnWrt.contains(v));
      if (any) {
        for (Value o : n.outputs()) {
          if (o.dtype().isFloating()) {
            dependsOnWrt.add(o);
          }
        }
      }
    }
    // Values the loss depends on (backward reachability).
    Set<Value> reachesLoss = new HashSet<>();
    reachesLoss.add(loss);
    for (int i = nodes.size() - 1; i >= 0; i--) {
      Node n = nodes.get(i);
      if (n.outputs().stream().anyMatch(reachesLoss::contains)) {
        n.inputs().stream().filter(v -> v != null).forEach(reachesLoss::add);
      }
    }
    Map<Value, List<Value>> contributions = new HashMap<>();
    contributions.computeIfAbsent(loss, k -> new ArrayList<>())
        .add(constantLike(loss, Tensor.scalar(loss.dtype(), 1.0)));
    for (int i = nodes.size() - 1; i >= 0; i--) {
      Node n = nodes.get(i);
      boolean relevant = n.outputs().stream().anyMatch(o -> reachesLoss.contains(o) && dependsOnWrt.contains(o));
      if (!relevant) {
        continue;
      }
      List<Value> outGrads = new ArrayList<>();
      boolean anyGrad = false;
      String scope = n.scope().isEmpty() ? "grad" : n.scope() + ".grad";
      try (var s = g.absoluteScope(scope)) {
        for (Value o : n.outputs()) {
          Value sum = sum(contributions.get(o));
          outGrads.add(sum);
          anyGrad |= sum != null;
        }
        if (!anyGrad) {
          continue;
        }
        boolean[] needed = new boolean[n.inputs().size()];
        for (int k = 0; k < needed.length; k++) {
          Value in = n.input(k);
          needed[k] = in != null && dependsOnWrt.contains(in) && reachesLoss.contains(in);
        }
        List<Value> inGrads = n.op().gradient(new GradCall(n, outGrads, needed));
        for (int k = 0; k < needed.length; k++) {
          Value gk = k < inGrads.size() ? inGrads.get(k) : null;
          if (needed[k] && gk != null) {
            Value in = n.input(k);
            if (!gk.shape().equals(in.shape()) && gk.shape().isFixed() && in.shape().isFixed()) {
              throw new IllegalStateException("gradient rule of " + n.op().onnxType() + " (node " + n.name()
                  + ") returned " + gk.type() + " for input " + in);
            }
            contributions.computeIfAbsent(in, key -> new ArrayList<>()).add(gk);
          }
        }
      }
    }
    Map<Value, Value> out = new LinkedHashMap<>();
    try (var s = g.absoluteScope("grad")) {
      for (Value w : wrt) {
        Value sum = sum(contributions.get(w));
        out.put(w, sum != null ? sum : zerosLike(w));
      }
    }
    return out;
  }

  private static Value sum(List<Value> parts) {
    if (parts == null || parts.isEmpty()) {
      return null;
    }
    Value acc = parts.get(0);
    for (int i = 1; i < parts.size(); i++) {
      acc = add(acc, parts.get(i));
    }
    return acc;
  }
}
