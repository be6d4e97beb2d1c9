package org.twicing.codegen.passes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;

/**
 * Whole-graph clean-ups run after differentiation: gradient markers removed, constant folding, common
 * subexpressions, dead code.
 */
public final class GraphPasses {
  /** Constants above this many elements are not produced by folding, to keep files small. */
  static final int FOLD_LIMIT = 1 << 16;

  private GraphPasses() { }

  /** Marker removal, constant folding, then CSE, then dead-code elimination. */
  public static Graph optimize(Graph g) {
    return eliminateDeadCode(eliminateCommonSubexpressions(foldConstants(removePassThrough(g))));
  }

  /**
   * Replaces every node whose op {@linkplain OpDef#isPassThrough passes its first input through} (gradient
   * markers, which matter only while differentiating) by that input. A marker whose output is itself a graph
   * output stays, as an ONNX Identity, so the output keeps its name.
   */
  public static Graph removePassThrough(Graph g) {
    Map<Value, Value> replace = new HashMap<>();
    List<Node> out = new ArrayList<>();
    for (Node n : g.nodes()) {
      List<Value> ins = substitute(n.inputs(), replace);
      if (n.op().isPassThrough() && !isGraphOutput(g, n)) {
        replace.put(n.output(0), ins.get(0));
        continue;
      }
      out.add(ins.equals(n.inputs()) ? n : Node.rewritten(n.op(), n.name(), n.scope(), ins, n.attributes(),
          n.outputs()));
    }
    if (replace.isEmpty()) {
      return g;
    }
    Map<String, Value> outputs = new LinkedHashMap<>();
    g.outputs().forEach((k, v) -> outputs.put(k, replace.getOrDefault(v, v)));
    return g.withNodes(out, outputs);
  }

  /** Removes nodes none of whose outputs reach a graph output. */
  public static Graph eliminateDeadCode(Graph g) {
    Set<Value> live = new HashSet<>(g.outputs().values());
    List<Node> kept = new ArrayList<>();
    List<Node> nodes = g.nodes();
    for (int i = nodes.size() - 1; i >= 0; i--) {
      Node n = nodes.get(i);
      if (n.outputs().stream().anyMatch(live::contains)) {
        kept.add(n);
        n.inputs().stream().filter(v -> v != null).forEach(live::add);
      }
    }
    Collections.reverse(kept);
    return g.withNodes(kept, g.outputs());
  }

  /** Merges nodes that apply the same deterministic op with the same attributes to the same inputs. */
  public static Graph eliminateCommonSubexpressions(Graph g) {
    Map<Value, Value> replace = new HashMap<>();
    Map<CseKey, Node> seen = new HashMap<>();
    List<Node> out = new ArrayList<>();
    for (Node n : g.nodes()) {
      List<Value> ins = substitute(n.inputs(), replace);
      Node node = ins.equals(n.inputs()) ? n
          : Node.rewritten(n.op(), n.name(), n.scope(), ins, n.attributes(), n.outputs());
      if (n.op().isRandom()) {
        out.add(node);
        continue;
      }
      // Structural key: the op itself, attributes compared value by value (not by hash), inputs by identity.
      CseKey key = new CseKey(n.op(), n.attributes(), ins);
      Node prior = seen.get(key);
      if (prior != null && !isGraphOutput(g, n)) {
        for (int i = 0; i < n.outputs().size(); i++) {
          replace.put(n.output(i), prior.output(i));
        }
        continue;
      }
      seen.putIfAbsent(key, node);
      out.add(node);
    }
    Map<String, Value> outputs = new LinkedHashMap<>();
    g.outputs().forEach((k, v) -> outputs.put(k, replace.getOrDefault(v, v)));
    return g.withNodes(out, outputs);
  }

  /** What makes two nodes the same computation: op, attributes (structurally) and the very same inputs. */
  private record CseKey(OpDef op, Attributes attributes, List<Value> inputs) { }

  /** Evaluates nodes whose inputs are all constants and replaces them with Constant nodes. */
  public static Graph foldConstants(Graph g) {
    Map<Value, Tensor> known = new HashMap<>();
    List<Node> out = new ArrayList<>();
    OpDef constant = Ops.CONSTANT;
    for (Node n : g.nodes()) {
      if (n.op() == constant) {
        known.put(n.output(0), n.attributes().get(Ops.VALUE));
        out.add(n);
        continue;
      }
      boolean foldable = !n.op().isRandom() && !n.inputs().isEmpty()
          && n.inputs().stream().allMatch(v -> v == null || known.containsKey(v)) && !isGraphOutput(g, n);
      if (foldable) {
        List<Tensor> args = new ArrayList<>();
        n.inputs().forEach(v -> args.add(v == null ? null : known.get(v)));
        List<Tensor> res = n.op().evaluate(args, n.attributes(), Rounding.TO_DTYPE);
        if (res.stream().allMatch(t -> t.size() <= FOLD_LIMIT)) {
          for (int i = 0; i < res.size(); i++) {
            Tensor t = res.get(i).cast(n.output(i).dtype());
            known.put(n.output(i), t);
            out.add(Node.rewritten(constant, n.name() + (res.size() > 1 ? "_" + i : ""), n.scope(), List.of(),
                Attributes.of(Ops.VALUE, t), List.of(n.output(i))));
          }
          continue;
        }
      }
      out.add(n);
    }
    return g.withNodes(out, g.outputs());
  }

  private static boolean isGraphOutput(Graph g, Node n) {
    return n.outputs().stream().anyMatch(g.outputs()::containsValue);
  }

  private static List<Value> substitute(List<Value> in, Map<Value, Value> replace) {
    List<Value> out = new ArrayList<>(in.size());
    for (Value v : in) {
      Value r = v;
      while (r != null && replace.containsKey(r)) {
        r = replace.get(r);
      }
      out.add(r);
    }
    return out;
  }
}
