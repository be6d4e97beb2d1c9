package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
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
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.tests.parity.ParityFixtures;
import org.twicing.tests.support.OnnxChecker;

/**
 * The {@code apply} graph of data-parallel training against {@code train_step} (itself checked against PyTorch in
 * {@code AdamWParityTest}), both in exact float64 ({@link Evaluator#runFloat64}): {@code grads} on two shards of
 * 3 and 1 examples, combined weighted by examples, then {@code apply}, equals one {@code train_step} on the whole
 * batch of 4, on every entry of every parameter and optimizer state, with label smoothing and global-norm
 * clipping (active) on. The emitted apply model passes the official ONNX checker.
 */
class ApplyGraphTest {
  static final double TOL_F64 = 1e-9;

  static Stream<Arguments> cases() {
    return Stream.of(Arguments.of("adamw", new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.05)),
        Arguments.of("sgd", new Optimizer.Sgd(0.9, 0.05)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void shardGradientsThenApplyEqualOneTrainStep(String name, Optimizer opt) {
    TaskModel model = new VisionTransformer(VisionTransformer.Config.builder("vit-apply").imageSize(8).channels(1)
        .patch(4).classes(5).dim(16).depth(2).heads(2).mlp(32)
        .attention(List.of(AttentionKind.SOFTMAX, AttentionKind.TWICING)).build());
    // Clip at 0.05: far below this model's gradient norm, so the clip coefficient is active.
    TrainingSpec spec = new TrainingSpec(new CrossEntropy(0.1, -100), opt, 0.05, 0);
    StateDict w = ParityFixtures.weights(model, 11);
    Random rng = new Random(11);
    double[] px = new double[4 * 64];
    for (int i = 0; i < px.length; i++) {
      px[i] = rng.nextGaussian();
    }
    Tensor x = new Tensor(DType.FLOAT32, new long[] {4, 1, 8, 8}, px).roundedToDType();
    Tensor y = new Tensor(DType.INT64, new long[] {4}, new double[] {1, 4, 0, 2});
    // A state as after some steps (non-zero moments), and step 3, so bias corrections and momentum matter.
    Map<String, Tensor> state = new LinkedHashMap<>(w.asMap());
    for (Param p : model.parameters()) {
      for (String s : opt.stateNames()) {
        int n = Math.toIntExact(Tensor.numel(p.shape()));
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
          d[i] = s.equals("exp_avg_sq") ? 1e-4 * rng.nextDouble() : 1e-2 * rng.nextGaussian();
        }
        state.put(p.name() + "." + s, new Tensor(DType.FLOAT32, p.shape(), d).roundedToDType());
      }
    }
    Tensor lr = Tensor.scalar(DType.FLOAT32, 1e-2);
    Tensor step = Tensor.scalar(DType.INT64, 3);

    Map<String, Tensor> feeds = new LinkedHashMap<>(state);
    feeds.put(model.inputName(), x);
    feeds.put(TrainingGraphs.LABELS, y);
    feeds.put(TrainingGraphs.LR, lr);
    feeds.put(TrainingGraphs.STEP, step);
    Map<String, Tensor> want = Evaluator.runFloat64(TrainingGraphs.trainStep(model, w, spec), feeds);

    Graph grads = TrainingGraphs.grads(model, w, spec);
    Map<String, Tensor> a = shardGrads(grads, model, w, x, y, 0, 3);
    Map<String, Tensor> b = shardGrads(grads, model, w, x, y, 3, 4);
    Map<String, Tensor> applyFeeds = new LinkedHashMap<>(state);
    double sumSq = 0;
    for (Param p : model.parameters()) {
      String g = p.name() + TrainingGraphs.GRAD_SUFFIX;
      double[] ga = a.get(g).toDoubles();
      double[] gb = b.get(g).toDoubles();
      double[] mean = new double[ga.length];
      for (int i = 0; i < mean.length; i++) {
        mean[i] = (3 * ga[i] + gb[i]) / 4;
        sumSq += mean[i] * mean[i];
      }
      applyFeeds.put(g, new Tensor(DType.FLOAT32, p.shape(), mean));
    }
    assertTrue(Math.sqrt(sumSq) > 2 * spec.clipNorm(),
        "the gradient norm " + Math.sqrt(sumSq) + " should exceed the clip threshold, so clipping is exercised");
    applyFeeds.put(TrainingGraphs.LR, lr);
    applyFeeds.put(TrainingGraphs.STEP, step);
    Graph apply = TrainingGraphs.apply(model, spec);
    Map<String, Tensor> got = Evaluator.runFloat64(apply, applyFeeds);

    Map<String, String> names = new LinkedHashMap<>();
    want.keySet().stream().filter(k -> k.endsWith(".next")).forEach(k -> names.put(k, k));
    ParityFixtures.compare("apply after 3+1 shard grads vs train_step (" + name + ", f64)", names, got, want,
        TOL_F64);
    OnnxChecker.check(ParityFixtures.emit(apply, true));
  }

  private static Map<String, Tensor> shardGrads(Graph grads, TaskModel model, StateDict w, Tensor x, Tensor y,
      int from, int to) {
    int n = to - from;
    double[] px = Arrays.copyOfRange(x.toDoubles(), from * 64, to * 64);
    double[] lab = Arrays.copyOfRange(y.toDoubles(), from, to);
    Map<String, Tensor> feeds = new LinkedHashMap<>(w.asMap());
    feeds.put(model.inputName(), new Tensor(DType.FLOAT32, new long[] {n, 1, 8, 8}, px));
    feeds.put(TrainingGraphs.LABELS, new Tensor(DType.INT64, new long[] {n}, lab));
    return Evaluator.runFloat64(grads, feeds);
  }
}
