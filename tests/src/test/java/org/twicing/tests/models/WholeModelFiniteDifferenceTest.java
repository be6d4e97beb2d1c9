package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.Mlp;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.parity.ParityFixtures;

/**
 * Finite-difference check of whole-model gradients: the {@code grads} graph of tiny twicing models (a ViT and two
 * GPTs, dim 8, depth 1-2) evaluated by the reference evaluator in exact float64 ({@link Evaluator#runFloat64}, no
 * per-op float32 rounding) against central differences of the same graph's loss, with label smoothing and (for
 * the GPTs) an ignored position:
 * <ul>
 *   <li>{@value #ENTRIES} randomly chosen parameter entries, one per randomly chosen parameter, and
 *       {@value #PIXELS} input pixels (ViT), each with a step of 1e-3 relative to the entry (at least 1e-4);</li>
 *   <li>the directional derivative along one random direction through every parameter (and the pixels) at once,
 *       which checks every gradient entry in aggregate, by a fourth-order central difference.</li>
 * </ul>
 * Central differences in exact float64 are accurate to about 1e-7 (entries, relative to the largest gradient
 * entry) and 1e-10 (directional, relative), so the tolerances are {@value #TOL} and {@value #TOL_DIRECTIONAL}.
 */
class WholeModelFiniteDifferenceTest {
  static final int ENTRIES = 12;
  static final int PIXELS = 4;
  static final double TOL = 1e-5;
  static final double TOL_DIRECTIONAL = 1e-8;

  static Stream<Arguments> models() {
    List<AttentionKind> twice2 = List.of(AttentionKind.TWICING, AttentionKind.TWICING);
    return Stream.of(
        Arguments.of("tiny twicing ViT", new VisionTransformer(VisionTransformer.Config.builder("fd-vit").imageSize(8)
            .channels(2).patch(4).classes(3).dim(8).depth(2).heads(2).mlp(16).attention(twice2).build())),
        Arguments.of("tiny twicing GPT (pre-LN, GELU, learned positions)", new Gpt(Gpt.Config.builder("fd-gpt")
            .vocab(11).context(8).dim(8).depth(2).heads(2).mlp(16).attention(twice2).build())),
        Arguments.of("tiny twicing GPT (post-LN, ReLU, sinusoidal, scaled)", new Gpt(Gpt.Config.builder("fd-gpt-post")
            .vocab(11).context(8).dim(8).depth(1).heads(2).mlp(16).preNorm(false).activation(Mlp.Activation.RELU)
            .learnedPositions(false).attnBias(false).embedScale(true).attention(List.of(AttentionKind.TWICING))
            .build())));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("models")
  void gradientsMatchCentralDifferences(String label, TaskModel model) {
    StateDict w = ParityFixtures.weights(model, 31);
    Random rng = new Random(32);
    Tensor x = ParityFixtures.input(model, 2, 6, rng);
    Tensor labels = ParityFixtures.labels(model, x, rng);
    boolean vision = model.inputType().dtype().isFloating();
    if (!vision) {
      labels = ParityFixtures.withIgnored(labels, -100, 3);
    }
    TrainingSpec spec = new TrainingSpec(new CrossEntropy(0.1, -100), new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.05),
        0.0, 0);
    Graph graph = TrainingGraphs.grads(model, w, spec);

    Map<String, Tensor> feeds = new LinkedHashMap<>();
    feeds.put(model.inputName(), x);
    feeds.put(TrainingGraphs.LABELS, labels);
    feeds.putAll(w.asMap());
    Map<String, Tensor> grads = Evaluator.runFloat64(graph, feeds);

    // Everything that has a gradient: parameters, and the pixels for the ViT.
    List<String> wrt = new ArrayList<>(w.asMap().keySet());
    if (vision) {
      wrt.add(model.inputName());
    }
    double scale = 0;
    for (String n : wrt) {
      scale = Math.max(scale, ParityFixtures.maxAbs(grads.get(n + ".grad")));
    }

    // 1. Individual entries.
    List<String> checked = new ArrayList<>();
    double worst = 0;
    List<String> picks = new ArrayList<>();
    List<String> params = new ArrayList<>(w.asMap().keySet());
    for (int i = 0; i < ENTRIES; i++) {
      picks.add(params.get(rng.nextInt(params.size())));
    }
    for (int i = 0; vision && i < PIXELS; i++) {
      picks.add(model.inputName());
    }
    for (String name : picks) {
      Tensor t = feeds.get(name);
      int idx = rng.nextInt(t.size());
      double v = t.get(idx);
      double h = 1e-3 * Math.max(Math.abs(v), 0.1);
      double fd = (loss(graph, feeds, name, idx, v + h) - loss(graph, feeds, name, idx, v - h)) / (2 * h);
      double an = grads.get(name + ".grad").get(idx);
      double err = Math.abs(fd - an) / scale;
      worst = Math.max(worst, err);
      checked.add(String.format(Locale.ROOT, "%s[%d]: analytic %.9e, central difference %.9e, error %.2e", name, idx,
          an, fd, err));
    }
    // 2. One random direction through everything.
    Map<String, Tensor> direction = new LinkedHashMap<>();
    double directional = 0;
    for (String n : wrt) {
      Tensor t = feeds.get(n);
      Tensor d = Tensor.randn(t.dtype(), rng, 1.0, t.shape());
      direction.put(n, d);
      double[] g = grads.get(n + ".grad").toDoubles();
      for (int i = 0; i < g.length; i++) {
        directional += g[i] * d.get(i);
      }
    }
    // Fourth-order central difference: along a direction through ~10^3 coordinates the third derivative is
    // large enough that the two-point formula's h² error would dominate.
    double h = 1e-5;
    double fdDirectional = (8 * (shifted(graph, feeds, direction, h) - shifted(graph, feeds, direction, -h))
        - (shifted(graph, feeds, direction, 2 * h) - shifted(graph, feeds, direction, -2 * h))) / (12 * h);
    double dirErr = Math.abs(fdDirectional - directional) / Math.max(Math.abs(directional), 1e-12);

    System.out.printf(Locale.ROOT, "[fd] %-55s loss %.6f; %d entries: max error %.2e (of max|grad| %.2e); "
        + "directional %.9e vs %.9e, rel error %.2e%n", label, grads.get("loss").get(0), picks.size(), worst, scale,
        directional, fdDirectional, dirErr);
    assertTrue(worst <= TOL, label + ": gradient entries differ from central differences:\n  "
        + String.join("\n  ", checked));
    assertTrue(dirErr <= TOL_DIRECTIONAL, label + ": directional derivative " + directional + " vs central difference "
        + fdDirectional);
  }

  @Test
  void runFloat64SkipsFloat32RoundingOnlyWhileItRuns() {
    GraphBuilder g = new GraphBuilder("rounding");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, 1));
    g.output("y", Ops.add(x, Ops.scalarLike(x, 1e-10)));
    Graph graph = g.build();
    Map<String, Tensor> feeds = Map.of("x", Tensor.floats(new long[] {1}, 1f));
    assertEquals(1.0, Evaluator.run(graph, feeds).get("y").get(0), 0.0, "float32 evaluation rounds 1 + 1e-10");
    assertEquals(1.0 + 1e-10, Evaluator.runFloat64(graph, feeds).get("y").get(0), 1e-16, "exact float64");
    assertEquals(1.0, Evaluator.run(graph, feeds).get("y").get(0), 0.0, "rounding is back after runFloat64");
  }

  /** The loss with entry {@code idx} of feed {@code name} set to {@code value} (exact float64). */
  private static double loss(Graph graph, Map<String, Tensor> feeds, String name, int idx, double value) {
    Map<String, Tensor> f = new LinkedHashMap<>(feeds);
    Tensor t = feeds.get(name);
    double[] d = t.toDoubles();
    d[idx] = value;
    f.put(name, new Tensor(t.dtype(), t.shape(), d));
    return Evaluator.runFloat64(graph, f).get("loss").get(0);
  }

  /** The loss with every feed in {@code direction} moved by {@code h} times its direction (exact float64). */
  private static double shifted(Graph graph, Map<String, Tensor> feeds, Map<String, Tensor> direction, double h) {
    Map<String, Tensor> f = new LinkedHashMap<>(feeds);
    direction.forEach((n, d) -> {
      Tensor t = feeds.get(n);
      double[] v = t.toDoubles();
      for (int i = 0; i < v.length; i++) {
        v[i] += h * d.get(i);
      }
      f.put(n, new Tensor(t.dtype(), t.shape(), v));
    });
    return Evaluator.runFloat64(graph, f).get("loss").get(0);
  }
}
