package org.twicing.codegen.importer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.Mlp;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * An imported graph wrapped as a {@link TaskModel}, so the preset machinery (inference, gradient and
 * training-step graphs, the trainer, checkpoints) applies to it unchanged. Its one input is the model input, the
 * chosen float output is the logits ([batch, C] or [batch, T, V]), and every float32 initializer is a parameter
 * under its own name unless frozen (frozen ones become constants). Weight decay follows the presets' rule: rank
 * 2 or more, except {@code cls_token} and {@code pos_embed}.
 */
public final class ForeignModel extends TaskModel {
  /** Parameter names (last dotted segment) that never get weight decay, as in the presets. */
  private static final Set<String> NO_DECAY = Set.of("cls_token", "pos_embed");

  /**
   * How to train an imported graph.
   *
   * @param logits the output that holds the logits, or null for the model's only float output
   * @param frozen initializers whose name this pattern finds (anywhere in the name) stay constant, or null
   */
  public record Options(String logits, Pattern frozen) {
    /** The only float output as logits, nothing frozen. */
    public static Options defaults() {
      return new Options(null, null);
    }
  }

  private final String name;
  private final Graph graph;
  private final Value input;
  private final String logitsOutput;
  private final Map<String, Tensor> trainable = new LinkedHashMap<>();
  private final Map<String, Tensor> frozen = new LinkedHashMap<>();
  private final Map<String, String> config = new LinkedHashMap<>();

  private ForeignModel(String name, Graph graph, Options options, Map<String, String> description) {
    this.name = name;
    this.graph = graph;
    if (graph.inputs().size() != 1) {
      throw new IllegalArgumentException("model '" + name + "' has " + graph.inputs().size() + " inputs "
          + graph.inputs().stream().map(Value::name).toList() + "; training needs exactly one (the data set's batch "
          + "feeds it)");
    }
    this.input = graph.inputs().get(0);
    this.logitsOutput = chooseLogits(options.logits());
    Value logits = graph.outputs().get(logitsOutput);
    if (logits.dtype() != DType.FLOAT32 || (logits.rank() != 2 && logits.rank() != 3)
        || !logits.shape().dim(-1).isFixed()) {
      throw new IllegalArgumentException("output '" + logitsOutput + "' of model '" + name + "' is " + logits.type()
          + "; logits must be float32 [batch, classes] or [batch, T, vocab] with a fixed last dimension");
    }
    for (String reserved : List.of("labels", "lr", "step", "loss")) {
      if (input.name().equals(reserved)) {
        throw new IllegalArgumentException("model '" + name + "' calls its input '" + reserved + "', a name the "
            + "training graphs use for their own input or output; rename it when exporting");
      }
    }
    boolean frozeAny = false;
    List<String> refused = new ArrayList<>();
    for (Map.Entry<Value, Tensor> e : graph.parameters().entrySet()) {
      String p = e.getKey().name();
      Tensor t = e.getValue();
      if (options.frozen() != null && options.frozen().matcher(p).find()) {
        frozen.put(p, t);
        frozeAny = true;
      } else if (t.dtype() != DType.FLOAT32) {
        refused.add(p + " (" + t.dtype() + ")");
      } else {
        trainable.put(p, t);
        long[] shape = t.shape();
        String last = p.substring(p.lastIndexOf('.') + 1);
        param(p, (s, rng) -> t, shape.length >= 2 && !NO_DECAY.contains(last), shape);
      }
    }
    if (!refused.isEmpty()) {
      throw new IllegalArgumentException("model '" + name + "': only float32 initializers can be trained; "
          + String.join(", ", refused) + " must be frozen (--frozen REGEX)");
    }
    if (options.frozen() != null && !frozeAny) {
      throw new IllegalArgumentException("--frozen '" + options.frozen().pattern() + "' matches no initializer of"
          + " model '" + name + "'; its initializers are " + graph.parameters().keySet().stream().map(Value::name)
              .toList());
    }
    config.put("source", name);
    config.putAll(description);
    config.put("input", input.name() + " " + input.type());
    config.put("logits", logitsOutput + " " + logits.type());
    config.put("frozen", options.frozen() == null ? "" : options.frozen().pattern());
  }

  /**
   * Wraps {@code imported}; {@code name} names it in metadata and messages (e.g. the file name), and
   * {@code description} adds configuration entries (e.g. the file's digest) that a resumed run must match.
   */
  public static ForeignModel of(ImportedModel imported, String name, Options options,
      Map<String, String> description) {
    Map<String, String> d = new LinkedHashMap<>();
    d.put("producer", imported.producer());
    d.put("opset", Long.toString(imported.opset()));
    d.putAll(description);
    return new ForeignModel(name, imported.graph(), options, d);
  }

  /** Wraps any graph (e.g. an imported one after rewriting passes). */
  public static ForeignModel of(Graph graph, String name, Options options, Map<String, String> description) {
    return new ForeignModel(name, graph, options, description);
  }

  private String chooseLogits(String requested) {
    List<String> outputs = new ArrayList<>(graph.outputs().keySet());
    if (requested != null) {
      if (!graph.outputs().containsKey(requested)) {
        throw new IllegalArgumentException("--logits '" + requested + "': model '" + name + "' has no output of that"
            + " name; its outputs are " + describe(outputs));
      }
      return requested;
    }
    List<String> floats = outputs.stream().filter(o -> graph.outputs().get(o).dtype().isFloating()).toList();
    if (floats.size() == 1) {
      return floats.get(0);
    }
    if (floats.isEmpty()) {
      throw new IllegalArgumentException("model '" + name + "' has no float output to train as logits; its outputs"
          + " are " + describe(outputs));
    }
    throw new IllegalArgumentException("model '" + name + "' has " + floats.size() + " float outputs "
        + describe(floats) + "; choose the logits with --logits NAME");
  }

  private String describe(List<String> outputs) {
    return outputs.stream().map(o -> o + " " + graph.outputs().get(o).type()).toList().toString();
  }

  /** The imported graph this model replays. */
  public Graph graph() {
    return graph;
  }

  /** The name of the output trained as logits (in emitted files it is called {@code logits}). */
  public String logitsOutput() {
    return logitsOutput;
  }

  /** The names of the frozen initializers (constants in every emitted graph). */
  public List<String> frozen() {
    return List.copyOf(frozen.keySet());
  }

  /** The imported values of the trainable parameters. */
  public StateDict weights() {
    return StateDict.load(this, trainable, "model '" + name + "'");
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String inputName() {
    return input.name();
  }

  @Override
  public TensorType inputType() {
    return input.type();
  }

  @Override
  public TensorType labelsType() {
    Shape s = graph.outputs().get(logitsOutput).shape();
    return new TensorType(DType.INT64, s.slice(0, s.rank() - 1));
  }

  @Override
  public long classes() {
    return graph.outputs().get(logitsOutput).shape().dim(-1).size();
  }

  /** The sequence length of a [batch, T, vocab] model when fixed, else 0. */
  public long sequenceLength() {
    Shape s = graph.outputs().get(logitsOutput).shape();
    return s.rank() == 3 && s.dim(1).isFixed() ? s.dim(1).size() : 0;
  }

  /** Replays the imported nodes into {@code f}'s graph, keeping node and value names. */
  @Override
  public Value logits(Forward f, Value in) {
    GraphBuilder g = f.graph();
    Map<Value, Value> map = new HashMap<>();
    map.put(input, in);
    for (Param p : parameters()) {
      map.put(graph.parameter(p.name()), f.param(p));
    }
    for (Map.Entry<String, Tensor> e : frozen.entrySet()) {
      map.put(graph.parameter(e.getKey()), g.applyNamed(Ops.CONSTANT, e.getKey(), List.of(),
          Attributes.of(Ops.VALUE, e.getValue()), List.of(e.getKey())).get(0));
    }
    Map<Node, GeluPattern.Match> gelus = GeluPattern.find(graph);
    for (Node n : graph.nodes()) {
      List<Value> ins = new ArrayList<>();
      for (Value v : n.inputs()) {
        ins.add(v == null ? null : map.get(v));
      }
      List<String> names = n.outputs().stream().map(Value::name).toList();
      List<Value> outs = g.applyNamed(n.op(), n.name(), ins, n.attributes(), names);
      for (int i = 0; i < outs.size(); i++) {
        map.put(n.output(i), outs.get(i));
      }
      GeluPattern.Match gelu = gelus.get(n);
      if (gelu != null) {
        // The forward stays as imported; only reverse mode sees the hand-written GELU derivative.
        Value s = map.get(gelu.s());
        Value t = map.get(gelu.t());
        try (var scope = g.absoluteScope(n.name() + ".gelu")) {
          map.put(n.output(0), Ops.withGradient("gelu", outs.get(0), List.of(map.get(gelu.x())),
              dy -> List.of(Mlp.geluBackward(dy, s, t))));
        }
      }
    }
    return map.get(graph.outputs().get(logitsOutput));
  }

  @Override
  public List<AttentionKind> attentionKinds() {
    return List.of();
  }

  @Override
  public Map<String, String> config() {
    return config;
  }
}
