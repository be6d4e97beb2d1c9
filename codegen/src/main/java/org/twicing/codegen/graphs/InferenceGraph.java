package org.twicing.codegen.graphs;

import java.util.LinkedHashMap;
import java.util.Map;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;

/** Builds the inference graph of a model: its input ({@code pixels} or {@code tokens}) to {@code logits}. */
public final class InferenceGraph {
  private InferenceGraph() { }

  /** The inference graph with {@code weights} as parameter values and the model's config as metadata. */
  public static Graph build(TaskModel model, StateDict weights) {
    GraphBuilder g = new GraphBuilder(model.name());
    Value input = g.input(model.inputName(), model.inputType());
    Value logits = model.logits(new Forward(g, weights, false, 0), input);
    g.output("logits", logits);
    metadata(model).forEach(g::metadata);
    g.docString(model.name() + ": " + model.configJson());
    return GraphPasses.optimize(g.build());
  }

  /** The metadata every artifact of {@code model} carries. */
  public static Map<String, String> metadata(TaskModel model) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(MetadataKeys.MODEL, model.name());
    m.put(MetadataKeys.CONFIG, model.configJson());
    m.put(MetadataKeys.ATTENTION, model.attentionKinds().stream().map(AttentionKind::name).toList().toString());
    m.put(MetadataKeys.PARAMETERS, Long.toString(model.parameterCount()));
    return m;
  }
}
