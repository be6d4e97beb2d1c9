package org.twicing.codegen.importer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.Tensor;

/**
 * Finds exact GELU written as primitives in an imported graph: torch.onnx's {@code Mul(Mul(x, Add(Erf(Div(x,
 * √2)), 1)), 0.5)} and our own {@code Mul(Mul(x, 0.5), t)} order, with {@code Mul(x, 1/√2)} for the Div and
 * either operand order. Replaying such a graph attaches {@link org.twicing.dsl.nn.Mlp#geluBackward} to the match,
 * so an imported transformer's MLP trains with the same 6-pass backward as the presets' instead of the chain
 * rule's 10. Constants are compared in float32.
 */
final class GeluPattern {
  private static final double SQRT2 = Math.sqrt(2);
  private static final OpDef ERF = Ops.byOnnxType("Erf");
  private static final OpDef ADD = Ops.byOnnxType("Add");
  private static final OpDef MUL = Ops.byOnnxType("Mul");
  private static final OpDef DIV = Ops.byOnnxType("Div");

  /** One match: the GELU input {@code x}, {@code s = x/√2} and {@code t = 1 + erf(s)}, all values of the graph. */
  record Match(Value x, Value s, Value t) { }

  private GeluPattern() { }

  /** The matches of {@code g}, keyed by the node whose output is the GELU's value. */
  static Map<Node, Match> find(Graph g) {
    Map<Value, List<Node>> consumers = new HashMap<>();
    for (Node n : g.nodes()) {
      for (Value v : n.inputs()) {
        if (v != null) {
          consumers.computeIfAbsent(v, k -> new ArrayList<>()).add(n);
        }
      }
    }
    Map<Node, Match> out = new HashMap<>();
    for (Node erf : g.nodes()) {
      if (erf.op() != ERF || !erf.output(0).dtype().isFloating()) {
        continue;
      }
      Value s = erf.input(0);
      Value x = scaledInput(g.producer(s));
      if (x == null) {
        continue;
      }
      Node add = only(consumers.get(erf.output(0)));
      if (add == null || add.op() != ADD || !isConstant(other(add, erf.output(0)), 1.0)) {
        continue;
      }
      Value t = add.output(0);
      Node m1 = only(consumers.get(t));
      if (m1 == null || m1.op() != MUL) {
        continue;
      }
      Value partner = other(m1, t);
      if (partner == x) {
        // torch.onnx: (x · t) · 0.5.
        Node m2 = only(consumers.get(m1.output(0)));
        if (m2 != null && m2.op() == MUL && isConstant(other(m2, m1.output(0)), 0.5)) {
          out.put(m2, new Match(x, s, t));
        }
      } else if (partner != null) {
        // Mlp.gelu: (x · 0.5) · t.
        Node half = g.producer(partner);
        if (half != null && half.op() == MUL && (half.input(0) == x || half.input(1) == x)
            && isConstant(other(half, x), 0.5)) {
          out.put(m1, new Match(x, s, t));
        }
      }
    }
    return out;
  }

  /** x when {@code n} is {@code Div(x, √2)} or {@code Mul(x, 1/√2)} (either order); else null. */
  private static Value scaledInput(Node n) {
    if (n == null || n.inputs().size() != 2) {
      return null;
    }
    if (n.op() == DIV && isConstant(n.input(1), SQRT2)) {
      return n.input(0);
    }
    if (n.op() == MUL) {
      if (isConstant(n.input(1), 1 / SQRT2)) {
        return n.input(0);
      }
      if (isConstant(n.input(0), 1 / SQRT2)) {
        return n.input(1);
      }
    }
    return null;
  }

  /** The other input of a two-input node that reads {@code v} once; null otherwise. */
  private static Value other(Node n, Value v) {
    if (n.inputs().size() != 2) {
      return null;
    }
    if (n.input(0) == v && n.input(1) != v) {
      return n.input(1);
    }
    if (n.input(1) == v && n.input(0) != v) {
      return n.input(0);
    }
    return null;
  }

  private static Node only(List<Node> nodes) {
    return nodes != null && nodes.size() == 1 ? nodes.get(0) : null;
  }

  /** Whether {@code v} is a build-time constant whose every element equals {@code expected} in float32. */
  private static boolean isConstant(Value v, double expected) {
    Tensor c = v == null ? null : v.constant();
    if (c == null || c.size() == 0) {
      return false;
    }
    for (double d : c.toDoubles()) {
      if ((float) d != (float) expected) {
        return false;
      }
    }
    return true;
  }
}
