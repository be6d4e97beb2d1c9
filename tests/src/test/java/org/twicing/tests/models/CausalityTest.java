package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.tests.parity.ParityFixtures;

/**
 * Causality of the emitted language models, through ONNX Runtime: changing the token at position t never changes
 * the logits at positions before t (twicing's {@code 2A − A²} must stay lower-triangular, and nothing else may
 * leak), but does change the logits at t. One batch holds the base sequence and, in row 1 + t, the same sequence
 * with token t replaced.
 */
class CausalityTest {
  static final int T = 16;

  static Stream<Arguments> cases() {
    PresetOptions paper = PresetOptions.defaults().withVocab(64).withDropout(0.0);
    return Stream.of(
        Arguments.of("lm-tiny", "default (twicing last:2)", PresetOptions.defaults()),
        Arguments.of("lm-tiny", "twicing all", PresetOptions.defaults().withTwicingLayers("all")),
        Arguments.of("lm-tiny", "twicing3 all", PresetOptions.defaults().withAttention("twicing3")
            .withTwicingLayers("all")),
        Arguments.of("lm-paper", "default (twicing 14,15), vocab 64", paper),
        Arguments.of("lm-paper", "twicing all, vocab 64", paper.withTwicingLayers("all")));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void changingTokenTLeavesEarlierLogitsAlone(String preset, String variant, PresetOptions options) {
    TaskModel model = Zoo.build(preset, options);
    long vocab = model.classes();
    StateDict w = ParityFixtures.weights(model, 77);
    Random rng = new Random(78);
    long[] base = new long[T];
    for (int i = 0; i < T; i++) {
      base[i] = Math.floorMod(rng.nextLong(), vocab);
    }
    double[] tokens = new double[(T + 1) * T];
    for (int row = 0; row <= T; row++) {
      for (int i = 0; i < T; i++) {
        tokens[row * T + i] = base[i];
      }
      if (row > 0) {
        int t = row - 1;
        tokens[row * T + t] = (base[t] + 1 + Math.floorMod(rng.nextLong(), vocab - 1)) % vocab;
      }
    }
    Tensor x = new Tensor(DType.INT64, new long[] {T + 1, T}, tokens);
    byte[] onnx = ParityFixtures.emit(InferenceGraph.build(model, w), false);
    Tensor logits = ParityFixtures.ort(onnx, Map.of("tokens", x)).get("logits");
    assertEquals(3, logits.rank());
    int v = (int) vocab;
    double scale = ParityFixtures.maxAbs(logits);
    double worstLeak = 0;
    double weakestChange = Double.POSITIVE_INFINITY;
    for (int t = 0; t < T; t++) {
      int row = t + 1;
      for (int pos = 0; pos <= t; pos++) {
        double diff = 0;
        for (int c = 0; c < v; c++) {
          diff = Math.max(diff, Math.abs(logits.get((row * T + pos) * v + c) - logits.get(pos * v + c)));
        }
        if (pos < t) {
          worstLeak = Math.max(worstLeak, diff / scale);
          assertTrue(diff <= 1e-6 * scale, String.format(Locale.ROOT,
              "%s %s: changing token %d changed the logits at earlier position %d by %.3e (max|logits| %.3e)",
              preset, variant, t, pos, diff, scale));
        } else {
          weakestChange = Math.min(weakestChange, diff / scale);
          assertTrue(diff > 1e-3 * scale, String.format(Locale.ROOT,
              "%s %s: changing token %d did not change its own logits (max diff %.3e)", preset, variant, t, diff));
        }
      }
    }
    System.out.printf(Locale.ROOT, "[causality] %-40s max relative change before t %.2e, min at t %.2e%n",
        preset + " " + variant, worstLeak, weakestChange);
  }
}
