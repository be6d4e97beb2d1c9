package org.twicing.codegen.passes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.Dim;

/**
 * Turns softmax attention into twicing attention in any graph (an imported pretrained transformer, say): each
 * head output {@code A·V}, with {@code A} a Softmax over the last axis, becomes {@code A·(2V − A·V)}.
 *
 * <p>A site is a Softmax over its last axis whose output, possibly through Dropout (output 0), Cast or Identity,
 * is the left operand of a MatMul; the right operand is V. The rewrite reuses that very value A (so one Softmax
 * and one dropout mask serve both products), never forms {@code A²}, and neither renormalises nor clamps: it is
 * exactly {@link org.twicing.dsl.nn.AttentionKind#TWICING}'s {@code mix}. A softmax whose A feeds more than one
 * MatMul as left operand is refused, since that graph already mixes A in some other way (twicing included).
 */
public final class TwicingRewrite {
  /** Metadata key recording what the rewrite did, on the rewritten graph. */
  public static final String METADATA_KEY = MetadataKeys.ATTENTION_REWRITE;

  private static final Attr<Long> AXIS = Attr.integer("axis");
  private static final Set<String> PASS_THROUGH = Set.of("Dropout", "Cast", "Identity");
  private static final OpDef MATMUL = Ops.byOnnxType("MatMul");
  private static final OpDef ADD = Ops.byOnnxType("Add");
  private static final OpDef SUB = Ops.byOnnxType("Sub");

  private TwicingRewrite() { }

  /**
   * The rewritten graph with what was rewritten: {@code sites} MatMuls, and {@code heads} when every site's A has
   * the shape [.., H, N, N] with a fixed H (their sum), else empty.
   */
  public record Result(Graph graph, int sites, OptionalLong heads) {
    /** A one-line report, e.g. {@code rewrote 12 softmax attention sites (48 heads) into twicing}. */
    public String summary() {
      return "rewrote " + sites + " softmax attention site" + (sites == 1 ? "" : "s")
          + (heads.isPresent() ? " (" + heads.getAsLong() + " heads)" : "") + " into twicing";
    }
  }

  /** What {@code --attention} asks of an imported model. */
  public enum Mode {
    /** Leave the graph as it is. */
    SOFTMAX,
    /** Rewrite every softmax attention into twicing; a graph without one is an error. */
    TWICING;

    /** Parses {@code softmax} or {@code twicing}, naming the accepted values otherwise. */
    public static Mode parse(String s) {
      return switch (s) {
        case "softmax" -> SOFTMAX;
        case "twicing" -> TWICING;
        default -> throw new IllegalArgumentException("--attention '" + s + "' is not supported on an imported "
            + "model (expected softmax, which keeps the graph, or twicing, which rewrites its softmax attention)");
      };
    }
  }

  /**
   * Rewrites every softmax attention site of {@code g}. Throws {@link IllegalArgumentException} naming the graph
   * when it has no site, or naming the Softmax node whose output is the left operand of several MatMuls.
   */
  public static Result rewrite(Graph g) {
    Map<Value, List<Node>> consumers = new HashMap<>();
    for (Node n : g.nodes()) {
      for (Value v : n.inputs()) {
        if (v != null) {
          consumers.computeIfAbsent(v, k -> new ArrayList<>()).add(n);
        }
      }
    }
    Set<Node> sites = Collections.newSetFromMap(new IdentityHashMap<>());
    long heads = 0;
    boolean headsKnown = true;
    for (Node n : g.nodes()) {
      if (!n.op().onnxType().equals("Softmax") || !overLastAxis(n)) {
        continue;
      }
      List<Node> products = leftMatMuls(n.output(0), consumers);
      if (products.size() > 1) {
        throw new IllegalArgumentException("cannot rewrite attention into twicing: the output of Softmax node '"
            + n.name() + "' is the left operand of " + products.size() + " MatMul nodes "
            + products.stream().map(Node::name).toList() + "; plain softmax attention has exactly one A·V "
            + "(is the model already twicing?)");
      }
      if (products.size() == 1) {
        sites.add(products.get(0));
        Value a = products.get(0).input(0);
        Dim h = a.rank() >= 4 ? a.shape().dim(a.rank() - 3) : null;
        if (h != null && h.isFixed()) {
          heads += h.size();
        } else {
          headsKnown = false;
        }
      }
    }
    if (sites.isEmpty()) {
      throw new IllegalArgumentException("--attention twicing: graph '" + g.name() + "' has no softmax attention "
          + "(a Softmax over the last axis whose output, possibly through Dropout, Cast or Identity, is the left "
          + "operand of a MatMul with V); nothing to rewrite");
    }
    OptionalLong headCount = headsKnown ? OptionalLong.of(heads) : OptionalLong.empty();
    String summary = new Result(g, sites.size(), headCount).summary();
    Graph out = replay(g, sites).withMetadata(Map.of(METADATA_KEY, summary));
    return new Result(out, sites.size(), headCount);
  }

  /** Applies {@code mode}: the graph unchanged (and zero sites) for softmax, {@link #rewrite} for twicing. */
  public static Result apply(Graph g, Mode mode) {
    return mode == Mode.SOFTMAX ? new Result(g, 0, OptionalLong.empty()) : rewrite(g);
  }

  private static boolean overLastAxis(Node softmax) {
    long axis = softmax.attributes().get(AXIS, -1L);
    int rank = softmax.input(0).rank();
    return axis == -1 || axis == rank - 1;
  }

  /** The MatMuls that take {@code a} (or a pass-through copy of it) as their left operand. */
  private static List<Node> leftMatMuls(Value a, Map<Value, List<Node>> consumers) {
    List<Node> found = new ArrayList<>();
    for (Node c : consumers.getOrDefault(a, List.of())) {
      String t = c.op().onnxType();
      if (t.equals("MatMul") && c.input(0) == a) {
        found.add(c);
      } else if (PASS_THROUGH.contains(t) && c.input(0) == a && (!t.equals("Cast") || c.output(0).dtype()
          .isFloating())) {
        found.addAll(leftMatMuls(c.output(0), consumers));
      }
    }
    return found;
  }

  /**
   * Rebuilds {@code g} node by node in a fresh builder (so the result's values and nodes belong together), keeping
   * every node and value name, and replaces each MatMul of {@code sites} by the twicing products, whose new nodes
   * are named after it ({@code <matmul>/twicing_av}, {@code .../twicing_2v}, {@code .../twicing_u}). Inputs,
   * parameters, outputs, scopes and metadata are kept.
   */
  private static Graph replay(Graph g, Set<Node> sites) {
    GraphBuilder b = new GraphBuilder(g.name());
    Map<Value, Value> map = new HashMap<>();
    for (Value in : g.inputs()) {
      map.put(in, b.input(in.name(), in.type()));
    }
    g.parameters().forEach((p, t) -> map.put(p, b.parameter(p.name(), t)));
    for (Node n : g.nodes()) {
      List<Value> ins = new ArrayList<>(n.inputs().size());
      n.inputs().forEach(v -> ins.add(v == null ? null : map.get(v)));
      try (var s = b.absoluteScope(n.scope())) {
        if (sites.contains(n)) {
          Value a = ins.get(0);
          Value v = ins.get(1);
          Value av = named(b, MATMUL, n.name() + "/twicing_av", a, v);
          Value twoV = named(b, ADD, n.name() + "/twicing_2v", v, v);
          Value u = named(b, SUB, n.name() + "/twicing_u", twoV, av);
          map.put(n.output(0), b.applyNamed(n.op(), n.name(), List.of(a, u), n.attributes(),
              List.of(n.output(0).name())).get(0));
        } else {
          List<Value> outs = b.applyNamed(n.op(), n.name(), ins, n.attributes(),
              n.outputs().stream().map(Value::name).toList());
          for (int i = 0; i < outs.size(); i++) {
            map.put(n.output(i), outs.get(i));
          }
        }
      }
    }
    g.outputs().forEach((name, v) -> b.output(name, map.get(v)));
    g.metadata().forEach(b::metadata);
    b.docString(g.docString());
    return b.build();
  }

  private static Value named(GraphBuilder b, OpDef op, String name, Value x, Value y) {
    return b.applyNamed(op, name, List.of(x, y), Attributes.none(), List.of(name)).get(0);
  }
}
