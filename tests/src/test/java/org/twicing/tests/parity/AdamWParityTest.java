package org.twicing.tests.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;

/**
 * Optimizer parity: {@value #STEPS} consecutive runs of the emitted {@code train_step} graph, each fed the previous
 * step's {@code .next} outputs with {@code step} = 1, 2, 3, against {@code torch.optim.AdamW} (and
 * {@code torch.optim.SGD} with momentum 0.9 and 0) in float64 via {@code torch_reference.py --mode adamw}, with
 * weight decay on PyTorch's usual parameter groups (rank >= 2 except cls_token / pos_embed). Global-norm gradient
 * clipping is checked against {@code torch.nn.utils.clip_grad_norm_} both where it is active (the reference's
 * total norm exceeds the limit in every step) and where it is not (below the limit in every step).
 *
 * <p>Two runs of the same graph are checked against the one PyTorch trajectory:
 * <ul>
 *   <li>ONNX Runtime (float32, the emitted model): the loss of every step and the final optimizer states (and
 *       SGD's parameters) within {@value #TOL} per tensor. AdamW's parameters are not a well-conditioned function
 *       of float32 gradients: where a gradient entry is at float32 noise level (for example the key bias, whose
 *       exact gradient is zero because softmax ignores a per-row shift, or an entry crossing zero), the step
 *       {@code lr·m/(√v+eps)} of that entry is noise of size up to lr. So the parameters are compared within
 *       {@value #TOL} on every entry whose Adam denominator stayed above {@value #KAPPA} of its tensor's
 *       root-mean-square denominator in every step (measured from the ONNX Runtime states of each step) or whose
 *       gradient was exactly zero throughout; the remaining entries, at most {@value #MAX_NOISY_FRACTION} of all,
 *       need only agree within the size of the steps taken.</li>
 *   <li>The reference evaluator in exact float64 arithmetic ({@link Evaluator#runFloat64}) running the same
 *       train_step graph (all cases but the softmax ViT, for time): everything, every entry, within
 *       {@value #TOL_F64}, so the optimizer's math (bias correction, eps placement, decoupled decay, parameter
 *       groups) is checked without float32 noise.</li>
 * </ul>
 */
class AdamWParityTest {
  /** Per-tensor relative error allowed for the float32 ONNX Runtime run. */
  static final double TOL = 1e-4;
  /** Per-tensor relative error allowed for the exact float64 evaluation of the same graph. */
  static final double TOL_F64 = 1e-9;
  static final int STEPS = 3;
  /** An AdamW entry is well-conditioned when its denominator is at least this fraction of its tensor's RMS. */
  static final double KAPPA = 3e-3;
  /** At most this fraction of all parameter entries may be ill-conditioned. */
  static final double MAX_NOISY_FRACTION = 0.03;
  static final double BETA1 = 0.9;
  static final double BETA2 = 0.999;
  static final double WD = 0.05;

  static Stream<Arguments> cases() {
    PresetOptions twicing = PresetOptions.defaults();
    PresetOptions softmax = PresetOptions.defaults().withAttention("softmax");
    return Stream.of(
        // The exact float64 evaluation of vit-fmnist costs ~15 s a case, so it runs for the twicing ViT only.
        Arguments.of("vit-fmnist", "twicing adamw", twicing, "adamw", 1e-3, 0.9, 0.0, true),
        Arguments.of("vit-fmnist", "softmax adamw", softmax, "adamw", 1e-3, 0.9, 0.0, false),
        Arguments.of("lm-tiny", "twicing adamw", twicing, "adamw", 1e-3, 0.9, 0.0, true),
        Arguments.of("lm-tiny", "softmax adamw", softmax, "adamw", 1e-3, 0.9, 0.0, true),
        Arguments.of("lm-tiny", "twicing sgd momentum 0.9", twicing, "sgd", 0.05, 0.9, 0.0, true),
        // The gradient norm of these lm-tiny cases is about 3 (printed by the clipping check): 0.5 clips every
        // step, 100 none, so both branches of the clip coefficient are compared with clip_grad_norm_.
        Arguments.of("lm-tiny", "twicing adamw clip 0.5 (active)", twicing, "adamw", 1e-3, 0.9, 0.5, true),
        Arguments.of("lm-tiny", "twicing sgd momentum 0 clip 0.5 (active)", twicing, "sgd", 0.05, 0.0, 0.5, true),
        Arguments.of("lm-tiny", "softmax sgd momentum 0 clip 100 (inactive)", softmax, "sgd", 0.05, 0.0, 100.0,
            true));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void threeStepsMatchPyTorchFloat64(String preset, String variant, PresetOptions options, String optimizer,
      double lr, double momentum, double clipNorm, boolean exactCheck) {
    TorchReference ref = TorchReference.get();
    TaskModel model = Zoo.build(preset, options);
    long seed = 3000 + preset.hashCode() + variant.hashCode();
    StateDict w = ParityFixtures.weights(model, seed);
    Random rng = new Random(seed);
    Tensor x = ParityFixtures.input(model, 2, 16, rng);
    Tensor labels = ParityFixtures.labels(model, x, rng);
    Map<String, Tensor> inputs = Map.of(model.inputName(), x, TrainingGraphs.LABELS, labels);
    Future<Map<String, Tensor>> expected = ref.submit(model.configJson(), w.asMap(), inputs, "adamw",
        "--steps", Integer.toString(STEPS), "--lr", Double.toString(lr), "--weight-decay", Double.toString(WD),
        "--beta1", Double.toString(BETA1), "--beta2", Double.toString(BETA2), "--eps", "1e-8",
        "--optimizer", optimizer, "--momentum", Double.toString(momentum), "--clip-norm", Double.toString(clipNorm));

    boolean adamw = optimizer.equals("adamw");
    Optimizer opt = adamw ? new Optimizer.AdamW(BETA1, BETA2, 1e-8, WD) : new Optimizer.Sgd(momentum, WD);
    TrainingSpec spec = new TrainingSpec(CrossEntropy.defaults(), opt, clipNorm, 0);
    Graph graph = TrainingGraphs.trainStep(model, w, spec);
    byte[] onnx = ParityFixtures.emit(graph, true);

    // ONNX Runtime, float32. The Adam denominators of every step are kept for the conditioning mask.
    List<Map<String, Tensor>> history = new ArrayList<>();
    Map<String, Tensor> ortResult = train(model, opt, w, inputs, lr, history,
        feeds -> ParityFixtures.ort(onnx, feeds));
    Map<String, Tensor> torch = new LinkedHashMap<>(TorchReference.await(expected));
    if (clipNorm > 0) {
      checkClipping(preset + " " + variant, torch, clipNorm, variant.contains("(active)"));
    }

    Map<String, String> names = new LinkedHashMap<>();
    ortResult.keySet().forEach(k -> names.put(k, k));
    assertEquals(new TreeSet<>(names.keySet()), new TreeSet<>(torch.keySet()),
        "reference outputs");
    Map<String, String> strict = new LinkedHashMap<>(names);
    if (adamw) {
      model.parameters().forEach(p -> strict.remove(p.name()));
    }
    if (!adamw && momentum == 0) {
      // torch keeps no momentum buffer at momentum 0 (the reference writes zeros); the graph's buffer then holds
      // the last gradient, which the update multiplies by 0. Only the losses and parameters carry meaning.
      model.parameters().forEach(p -> names.remove(p.name() + ".momentum"));
      model.parameters().forEach(p -> strict.remove(p.name() + ".momentum"));
    }
    ParityFixtures.compare("train_step " + preset + " " + variant + " (ORT f32)", strict, ortResult, torch, TOL);
    if (adamw) {
      compareAdamParameters("train_step " + preset + " " + variant + " (ORT f32) params", model, ortResult, torch,
          history, lr);
    }
    // The steps really trained: the loss moved (a graph that ignored the update would keep it constant).
    assertNotEquals(ortResult.get("loss.1").get(0), ortResult.get("loss." + STEPS).get(0), "loss changed");

    // The same graph in exact float64: every entry of everything.
    if (!exactCheck) {
      return;
    }
    Map<String, Tensor> exact = train(model, opt, w, inputs, lr, new ArrayList<>(),
        feeds -> Evaluator.runFloat64(graph, feeds));
    ParityFixtures.compare("train_step " + preset + " " + variant + " (evaluator f64)", names, exact, torch,
        TOL_F64);
  }

  /**
   * Asserts that clipping was {@code active} (the reference's total gradient norm above {@code clipNorm}) or not
   * in every step, as the case promises, and removes the reference's {@code grad_norm.k} outputs.
   */
  private static void checkClipping(String label, Map<String, Tensor> torch, double clipNorm, boolean active) {
    StringBuilder norms = new StringBuilder();
    for (int k = 1; k <= STEPS; k++) {
      Tensor n = torch.remove("grad_norm." + k);
      if (n == null) {
        throw new AssertionError(label + ": the reference wrote no grad_norm." + k);
      }
      double norm = n.get(0);
      norms.append(String.format(Locale.ROOT, " %.4f", norm));
      assertEquals(active, norm > clipNorm, String.format(Locale.ROOT, "%s: step %d gradient norm %.4f vs clip "
          + "%.4f; the case needs clipping %s", label, k, norm, clipNorm, active ? "active" : "inactive"));
    }
    System.out.printf(Locale.ROOT, "[parity] %-58s gradient norms%s, clip %.3g%n", label, norms, clipNorm);
  }

  /**
   * Runs {@value #STEPS} steps with {@code runner}; returns "loss.k" for each step plus the final parameters and
   * states, and appends the state after each step to {@code history}.
   */
  static Map<String, Tensor> train(TaskModel model, Optimizer opt, StateDict w, Map<String, Tensor> inputs,
      double lr, List<Map<String, Tensor>> history,
      Function<Map<String, Tensor>, Map<String, Tensor>> runner) {
    Map<String, Tensor> state = new LinkedHashMap<>(w.asMap());
    for (Param p : model.parameters()) {
      for (String s : opt.stateNames()) {
        state.put(p.name() + "." + s, Tensor.zeros(DType.FLOAT32, p.shape()));
      }
    }
    Map<String, Tensor> result = new LinkedHashMap<>();
    for (int step = 1; step <= STEPS; step++) {
      Map<String, Tensor> feeds = new LinkedHashMap<>(inputs);
      // Not rounded: the float64 evaluator then uses exactly the lr PyTorch uses; ORT takes it as float32.
      feeds.put(TrainingGraphs.LR, Tensor.scalar(DType.FLOAT32, lr));
      feeds.put(TrainingGraphs.STEP, Tensor.scalar(DType.INT64, step));
      feeds.putAll(state);
      Map<String, Tensor> out = runner.apply(feeds);
      assertEquals(1 + state.size(), out.size(), "train_step outputs: loss and one .next per parameter/state");
      result.put("loss." + step, out.get("loss"));
      for (String k : new ArrayList<>(state.keySet())) {
        Tensor next = out.get(k + ".next");
        if (next == null) {
          throw new AssertionError("train_step has no output " + k + ".next");
        }
        state.put(k, next);
      }
      history.add(new LinkedHashMap<>(state));
    }
    result.putAll(state);
    return result;
  }

  /**
   * AdamW parameters: strict on well-conditioned entries (Adam denominator sqrt(v_k / (1 - beta2^k)) of every
   * step at least {@value #KAPPA} of the tensor's root-mean-square denominator in that step, or a gradient that
   * was exactly zero throughout), bounded by the steps' size elsewhere.
   */
  static void compareAdamParameters(String label, TaskModel model, Map<String, Tensor> actual,
      Map<String, Tensor> expected, List<Map<String, Tensor>> history, double lr) {
    compareAdamParameters(label, model, actual, expected, history, lr, TOL);
  }

  /** {@link #compareAdamParameters} with relative tolerance {@code tol} on the well-conditioned entries. */
  static void compareAdamParameters(String label, TaskModel model, Map<String, Tensor> actual,
      Map<String, Tensor> expected, List<Map<String, Tensor>> history, double lr, double tol) {
    long total = 0;
    long noisy = 0;
    double worst = 0;
    String worstName = "-";
    double worstNoisy = 0;
    List<String> failures = new ArrayList<>();
    for (Param p : model.parameters()) {
      Tensor a = actual.get(p.name());
      Tensor b = expected.get(p.name());
      boolean[] wellConditioned = new boolean[a.size()];
      Arrays.fill(wellConditioned, true);
      // Entries whose gradient was exactly zero in every step (e.g. rows of unused positions) carry no noise.
      boolean[] zeroGradient = new boolean[a.size()];
      Arrays.fill(zeroGradient, true);
      for (int k = 0; k < STEPS; k++) {
        Tensor v = history.get(k).get(p.name() + ".exp_avg_sq");
        double bc2 = 1 - Math.pow(BETA2, k + 1);
        double meanSq = 0;
        for (int i = 0; i < v.size(); i++) {
          meanSq += v.get(i) / bc2;
        }
        double rms = Math.sqrt(meanSq / v.size());
        for (int i = 0; i < v.size(); i++) {
          if (v.get(i) != 0) {
            zeroGradient[i] = false;
          }
          if (Math.sqrt(Math.max(v.get(i), 0) / bc2) < KAPPA * rms) {
            wellConditioned[i] = false;
          }
        }
      }
      double scale = ParityFixtures.maxAbs(b);
      double err = 0;
      for (int i = 0; i < a.size(); i++) {
        double d = Math.abs(a.get(i) - b.get(i));
        if (wellConditioned[i] || zeroGradient[i]) {
          err = Math.max(err, d / scale);
        } else {
          noisy++;
          worstNoisy = Math.max(worstNoisy, d);
          if (!(d <= 2 * STEPS * lr + tol * scale)) {
            failures.add(String.format(Locale.ROOT, "%s[%d]: |%.6e - %.6e| exceeds the %d steps' size", p.name(),
                i, a.get(i), b.get(i), STEPS));
          }
        }
      }
      total += a.size();
      if (err > worst) {
        worst = err;
        worstName = p.name();
      }
      if (!(err <= tol)) {
        failures.add(String.format(Locale.ROOT, "%s: relative error %.3e > %.1e on well-conditioned entries",
            p.name(), err, tol));
      }
    }
    double fraction = (double) noisy / total;
    System.out.printf(Locale.ROOT, "[parity] %-58s %4d tensors, max rel err %.3e (%s); %d of %d entries "
        + "(%.3f%%) ill-conditioned, max abs diff there %.2e = %.2f lr%n", label, model.parameters().size(), worst,
        worstName, noisy, total, 100 * fraction, worstNoisy, worstNoisy / lr);
    assertTrue(failures.isEmpty(), label + ":\n  " + String.join("\n  ", failures));
    assertTrue(fraction <= MAX_NOISY_FRACTION, label + ": " + noisy + " of " + total
        + " parameter entries are ill-conditioned, more than " + MAX_NOISY_FRACTION);
  }
}
