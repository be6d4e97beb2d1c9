package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.runtime.ModelSession;
import org.twicing.tests.parity.ParityFixtures;

/**
 * End-to-end learning: a small twicing ViT (28×28×1, patch 7, dim 32, depth 2, 2 heads, MLP 64) trained with the
 * emitted {@code train_step.onnx} in ONNX Runtime (AdamW, lr 3e-3, weight decay 0.05), feeding every step's
 * {@code .next} outputs back, memorises a fixed batch of 32 random images with random labels: the loss falls from
 * about ln 10 ≈ 2.3 to below {@value #TARGET}, and the trained weights, put into the inference model, classify
 * every image of the batch correctly.
 */
class LearningSmokeTest {
  static final int STEPS = 300;
  static final int BATCH = 32;
  static final double LR = 3e-3;
  static final double TARGET = 0.05;

  @Test
  void trainStepMemorisesAFixedBatch() {
    VisionTransformer model = new VisionTransformer(VisionTransformer.Config.builder("smoke-vit").imageSize(28)
        .channels(1).patch(7).classes(10).dim(32).depth(2).heads(2).mlp(64)
        .attention(List.of(AttentionKind.TWICING, AttentionKind.TWICING)).build());
    StateDict w = StateDict.initialize(model, 5);
    Random rng = new Random(6);
    Tensor pixels = Tensor.randn(DType.FLOAT32, rng, 1.0, BATCH, 1, 28, 28);
    Tensor labels = ParityFixtures.randomInts(rng, 10, BATCH);
    TrainingSpec spec = TrainingSpec.defaults(); // AdamW 0.9/0.999, eps 1e-8, weight decay 0.05
    byte[] onnx = ParityFixtures.emit(TrainingGraphs.trainStep(model, w, spec), true);

    Map<String, Tensor> state = new LinkedHashMap<>(w.asMap());
    for (Param p : model.parameters()) {
      for (String s : spec.optimizer().stateNames()) {
        state.put(p.name() + "." + s, Tensor.zeros(DType.FLOAT32, p.shape()));
      }
    }
    double[] losses = new double[STEPS];
    long t0 = System.nanoTime();
    try (ModelSession session = ModelSession.open(onnx)) {
      for (int step = 1; step <= STEPS; step++) {
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put("pixels", pixels);
        feeds.put(TrainingGraphs.LABELS, labels);
        feeds.put(TrainingGraphs.LR, Tensor.scalar(DType.FLOAT32, LR).roundedToDType());
        feeds.put(TrainingGraphs.STEP, Tensor.scalar(DType.INT64, step));
        feeds.putAll(state);
        Map<String, Tensor> out = session.runHost(feeds);
        losses[step - 1] = out.get("loss").get(0);
        assertTrue(Double.isFinite(losses[step - 1]), "loss is finite at step " + step);
        for (String k : state.keySet()) {
          state.put(k, out.get(k + ".next"));
        }
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    System.out.printf(Locale.ROOT, "[learning] twicing ViT: loss %.4f -> %.4f (step 50 %.4f, step 150 %.4f) in %d"
        + " steps, %.1fs%n", losses[0], losses[STEPS - 1], losses[49], losses[149], STEPS, seconds);
    assertEquals(Math.log(10), losses[0], 0.5, "initial loss is about ln 10");
    assertTrue(losses[STEPS - 1] < TARGET, "final loss " + losses[STEPS - 1] + " < " + TARGET);
    assertTrue(losses[149] < losses[0], "loss decreases");

    // The trained weights in the inference model: every memorised image gets its label.
    Map<String, Tensor> trained = new LinkedHashMap<>();
    model.parameters().forEach(p -> trained.put(p.name(), state.get(p.name())));
    StateDict tw = StateDict.load(model, trained, "trained state");
    Tensor logits = ParityFixtures.ort(ParityFixtures.emit(InferenceGraph.build(model, tw), false),
        Map.of("pixels", pixels)).get("logits");
    int correct = 0;
    for (int b = 0; b < BATCH; b++) {
      int best = 0;
      for (int c = 1; c < 10; c++) {
        if (logits.get(b * 10 + c) > logits.get(b * 10 + best)) {
          best = c;
        }
      }
      correct += best == (int) labels.get(b) ? 1 : 0;
    }
    assertEquals(BATCH, correct, "trained inference model classifies the memorised batch");
  }
}
