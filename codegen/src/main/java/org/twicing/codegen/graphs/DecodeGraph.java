package org.twicing.codegen.graphs;

import java.util.ArrayList;
import java.util.List;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Attention;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorType;

/**
 * Builds the incremental decoding graph ({@code decode.onnx}) of a causal language model. Inputs: {@code tokens}
 * int64 [batch, S] (the new tokens) and, per layer i, {@code past.i.key} and {@code past.i.value} float32
 * [batch, heads, past, d_head], plus {@code past.i.twice} (the cached {@code 2v_j − (A V)_j}) for twicing layers.
 * Outputs: {@code logits} [batch, S, vocab] and {@code present.i.key/value/twice} [batch, heads, past+S, d_head],
 * to be fed back as the next call's {@code past.*}. The first call passes caches with past = 0. Parameters are the
 * inference model's, by name.
 */
public final class DecodeGraph {
  /** Name of the new-token input. */
  public static final String TOKENS = "tokens";
  /** Name of the logits output. */
  public static final String LOGITS = "logits";

  private DecodeGraph() { }

  /** The name of cache tensor {@code part} (key, value or twice) of layer {@code layer}, as input ({@code past}). */
  public static String past(int layer, String part) {
    return "past." + layer + "." + part;
  }

  /** The name of cache tensor {@code part} of layer {@code layer}, as output ({@code present}). */
  public static String present(int layer, String part) {
    return "present." + layer + "." + part;
  }

  /** The decoding graph of {@code model} with {@code weights} as parameter values. */
  public static Graph build(Gpt model, StateDict weights) {
    Gpt.Config cfg = model.cfg();
    long dh = cfg.dim() / cfg.heads();
    GraphBuilder g = new GraphBuilder(model.name() + "_decode");
    Value tokens = g.input(TOKENS, TensorType.of(DType.INT64, "batch", "S"));
    TensorType cacheType = TensorType.of(DType.FLOAT32, "batch", cfg.heads(), "past", dh);
    List<Attention.Cache> past = new ArrayList<>();
    for (int i = 0; i < cfg.depth(); i++) {
      Value k = g.input(past(i, "key"), cacheType);
      Value v = g.input(past(i, "value"), cacheType);
      Value u = model.cachesTwice(i) ? g.input(past(i, "twice"), cacheType) : null;
      past.add(new Attention.Cache(k, v, u));
    }
    Gpt.Decoded d = model.decode(new Forward(g, weights, false, 0), tokens, past);
    g.output(LOGITS, d.logits());
    for (int i = 0; i < cfg.depth(); i++) {
      Attention.Cache c = d.present().get(i);
      g.output(present(i, "key"), c.key());
      g.output(present(i, "value"), c.value());
      if (c.twice() != null) {
        g.output(present(i, "twice"), c.twice());
      }
    }
    InferenceGraph.metadata(model).forEach(g::metadata);
    g.metadata(MetadataKeys.ARTIFACT, "decode");
    g.docString(model.name() + " (incremental decoding): " + model.configJson());
    return GraphPasses.optimize(g.build());
  }
}
