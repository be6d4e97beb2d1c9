package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.dsl.ops.Ops.reduceMean;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Attention;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Block;
import org.twicing.dsl.nn.Embedding;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.Init;
import org.twicing.dsl.nn.LayerNorm;
import org.twicing.dsl.nn.Linear;
import org.twicing.dsl.nn.Mlp;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.runtime.ModelSession;
import org.twicing.tests.support.OnnxChecker;

/**
 * A new architecture written as a user would (the README's example): a byte-level sequence classifier with one
 * higher-order twicing block and mean pooling. The compiler builds its training step with no change, and a few
 * hundred steps fit a fixed batch.
 */
class CustomArchitectureTest {
  /** Bytes in, class logits out: embedding, positions, twicing blocks, mean over tokens, linear head. */
  static final class ByteClassifier extends TaskModel {
    private final long len;
    private final long classes;
    private final Embedding embed;
    private final List<Block> blocks;
    private final LayerNorm norm;
    private final Linear head;

    ByteClassifier(long len, long dim, long classes) {
      this.len = len;
      this.classes = classes;
      embed = child("embed", new Embedding(256, dim, Init.normal(0.02)));
      param("pos", Init.truncNormal(0.02), false, len, dim);
      var spec = Attention.Spec.builder(dim, 2).kind(AttentionKind.higherOrder(3)).maxLen(len).build();
      blocks = List.of(child("block", new Block(Block.Names.TIMM, true, 1e-6, spec, 4 * dim, Mlp.Activation.GELU,
          true, 0)));
      norm = child("norm", new LayerNorm(dim, 1e-6));
      head = child("head", new Linear(dim, classes, true));
    }

    @Override
    public Value logits(Forward f, Value tokens) {
      Value x = Ops.add(embed.forward(f, tokens), f.param(p("pos")));
      for (Block b : blocks) {
        x = b.forward(f, x, null);
      }
      return head.forward(f, reduceMean(norm.forward(f, x), false, 1));
    }

    @Override public String name() { return "byte-classifier"; }
    @Override public String inputName() { return "tokens"; }
    @Override public TensorType inputType() { return TensorType.of(DType.INT64, "batch", len); }
    @Override public TensorType labelsType() { return TensorType.of(DType.INT64, "batch"); }
    @Override public long classes() { return classes; }
    @Override public List<AttentionKind> attentionKinds() { return List.of(AttentionKind.higherOrder(3)); }
    @Override public Map<String, String> config() { return Map.of("kind", "byte-classifier"); }
  }

  @Test
  void userWrittenModelTrainsThroughTheCompiledStep() throws Exception {
    ByteClassifier model = new ByteClassifier(16, 32, 4);
    StateDict w = StateDict.initialize(model, 0);
    TrainingSpec spec = TrainingSpec.defaults();
    byte[] step = OnnxEmitter.emit(TrainingGraphs.trainStep(model, w, spec),
        EmitOptions.builder().parametersAsInputs(true).build()).toByteArray();
    OnnxChecker.check(step);
    Random rng = new Random(1);
    double[] tokens = new double[8 * 16];
    double[] labels = new double[8];
    for (int b = 0; b < 8; b++) {
      labels[b] = b % 4;
      for (int t = 0; t < 16; t++) {
        tokens[b * 16 + t] = rng.nextInt(256);
      }
    }
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    feeds.put("tokens", new Tensor(DType.INT64, new long[] {8, 16}, tokens));
    feeds.put("labels", new Tensor(DType.INT64, new long[] {8}, labels));
    feeds.put("lr", Tensor.scalar(DType.FLOAT32, 3e-3));
    for (Param p : model.parameters()) {
      feeds.put(p.name(), w.get(p.name()));
      for (String s : spec.optimizer().stateNames()) {
        feeds.put(p.name() + "." + s, Tensor.zeros(DType.FLOAT32, p.shape()));
      }
    }
    double first = 0;
    double last = 0;
    try (ModelSession s = ModelSession.open(step)) {
      for (int i = 1; i <= 150; i++) {
        feeds.put("step", Tensor.scalar(DType.INT64, i));
        Map<String, Tensor> out = s.runHost(feeds);
        last = out.get("loss").get(0);
        if (i == 1) {
          first = last;
        }
        for (String k : out.keySet()) {
          if (k.endsWith(".next")) {
            feeds.put(k.substring(0, k.length() - ".next".length()), out.get(k));
          }
        }
      }
    }
    assertTrue(first > 1.0 && last < 0.05, "loss " + first + " -> " + last);
  }
}
