package org.twicing.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.Success$;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.training.FashionMnistBatches;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.LrSchedule;
import org.twicing.runtime.train.MetricsLog;
import org.twicing.runtime.train.StepRunner;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;

/**
 * Synchronous data-parallel training on local[2] against the single-process trainer with the same global batch
 * and seed: a small two-layer ViT (one softmax, one twicing layer), global-norm clipping and label smoothing on,
 * no dropout; SGD with momentum and AdamW. Also uneven shards, a failed task, and resuming.
 */
class DataParallelTrainingTest {
  private static final int BATCH = 16;
  private static final long STEPS = 20;

  @TempDir
  Path tmp;

  static TaskModel model() {
    return new VisionTransformer(VisionTransformer.Config.builder("vit-dp").imageSize(28).channels(1).patch(7)
        .classes(10).dim(32).depth(2).heads(2).mlp(64).attention(List.of(AttentionKind.SOFTMAX, AttentionKind.TWICING))
        .build());
  }

  /**
   * Label smoothing 0.1 and global-norm clipping at 0.25 (the gradient norm of this model at these steps is well
   * above it, so clipping is active); SGD with momentum, or AdamW.
   */
  static TrainingSpec spec(boolean adamw) {
    return new TrainingSpec(new CrossEntropy(0.1, -100), adamw ? new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.05)
        : new Optimizer.Sgd(0.9, 0.05), 0.25, 0);
  }

  /** Trains {@code stopAt} of {@link #STEPS} steps into {@code dir} with {@code steps} (null: single process). */
  TrainResult train(Path dir, StepRunner.Factory steps, long stopAt, Path resume) throws IOException {
    return train(dir, steps, stopAt, resume, false);
  }

  TrainResult train(Path dir, StepRunner.Factory steps, long stopAt, Path resume, boolean adamw)
      throws IOException {
    TaskModel m = model();
    StringWriter log = new StringWriter();
    TrainerConfig.Builder b = TrainerConfig.builder(m).spec(spec(adamw))
        .schedule(LrSchedule.warmupCosine(adamw ? 3e-3 : 0.05, 3, STEPS, 1e-4)).steps(STEPS).stopAt(stopAt).seed(7).runDir(dir)
        .sessionOptions(SessionOptionsSpec.builder().intraOpThreads(1).build()).checkpointEvery(5)
        .out(new PrintWriter(log)).progressBar(false);
    if (steps != null) {
      b.stepRunner(steps);
    }
    if (resume != null) {
      b.resumeFrom(resume);
    }
    return new Trainer(b.build()).train(new FashionMnistBatches(
        FashionMnist.load(SparkTestSupport.fmnist()).train(), BATCH, 7));
  }

  static StepRunner.Factory spark(DataParallel dp) {
    return SparkStepRunner.factory(JavaSparkContext.fromSparkContext(SparkTestSupport.spark().sparkContext()), dp,
        new StepTimes());
  }

  static StateDict params(Path run) throws IOException {
    return Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).parameters(model());
  }

  /** Every parameter tensor of {@code got} within relative {@code tol} (L2 norm of the difference) of {@code want}. */
  static void assertClose(StateDict want, StateDict got, double tol) {
    assertClose(want, got, tol, false);
  }

  /**
   * As {@link #assertClose(StateDict, StateDict, double)}; {@code skipKeyBias} leaves out the key third of each
   * qkv bias: attention is invariant to the key bias (softmax of q·(k + b) shifts every score of a row by q·b), so
   * its true gradient is zero and what a float32 backward pass computes for it is rounding noise, which AdamW
   * normalises into full-size steps; no two float32 programs agree on it, whatever the sharding.
   */
  static void assertClose(StateDict want, StateDict got, double tol, boolean skipKeyBias) {
    for (Param p : model().parameters()) {
      float[] a = want.get(p.name()).toFloats();
      float[] b = got.get(p.name()).toFloats();
      if (skipKeyBias && p.name().endsWith("attn.qkv.bias")) {
        int d = a.length / 3;
        a = concat(a, d);
        b = concat(b, d);
      }
      double diff = 0;
      double norm = 0;
      for (int i = 0; i < a.length; i++) {
        diff += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
        norm += (double) a[i] * a[i];
      }
      double rel = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
      assertTrue(rel <= tol, p.name() + ": relative difference " + rel + " > " + tol);
    }
  }

  @Test
  void twoWorkersEqualTheSingleProcessRunWithClippingAndLabelSmoothing() throws IOException {
    Path local = tmp.resolve("local");
    Path dist = tmp.resolve("spark");
    TrainResult a = train(local, null, STEPS, null);
    StepTimes times = new StepTimes();
    TrainResult b = train(dist, SparkStepRunner.factory(
        JavaSparkContext.fromSparkContext(SparkTestSupport.spark().sparkContext()), DataParallel.of(2), times),
        STEPS, null);
    assertEquals(STEPS, times.steps());
    StateDict init = StateDict.initialize(model(), 7);
    StateDict want = params(local);
    StateDict got = params(dist);
    assertClose(want, got, 1e-5);
    // Not vacuous: training moved the parameters far more than the tolerance.
    assertTrue(relativeChange(init, want) > 100 * 1e-5, "training moved the parameters by "
        + relativeChange(init, want));
    for (int i = 0; i < STEPS; i++) {
      assertEquals(a.losses()[i], b.losses()[i], 1e-5 * Math.abs(a.losses()[i]), "loss of step " + (i + 1));
    }
    // The same run directory contract as local training.
    for (String f : List.of(MetricsLog.FILE_NAME, Checkpoint.FILE_NAME, Trainer.MODEL_FILE, "curves.png")) {
      assertTrue(Files.size(dist.resolve(f)) > 0, f);
    }
    assertEquals(STEPS, MetricsLog.read(dist.resolve(MetricsLog.FILE_NAME)).size());
  }

  @Test
  void twoWorkersEqualTheSingleProcessRunWithAdamW() throws IOException {
    Path local = tmp.resolve("local");
    Path dist = tmp.resolve("spark");
    TrainResult a = train(local, null, STEPS, null, true);
    TrainResult b = train(dist, spark(DataParallel.of(2)), STEPS, null, true);
    assertClose(params(local), params(dist), 1e-5, true);
    assertTrue(relativeChange(StateDict.initialize(model(), 7), params(local)) > 100 * 1e-5);
    for (int i = 0; i < STEPS; i++) {
      assertEquals(a.losses()[i], b.losses()[i], 1e-5 * Math.abs(a.losses()[i]), "loss of step " + (i + 1));
    }
  }

  @Test
  void unevenShardsAreExactAndTooManyWorkersAreAClearError() throws IOException {
    TrainResult a = train(tmp.resolve("local"), null, 5, null);
    TrainResult b = train(tmp.resolve("w3"), spark(DataParallel.of(3)), 5, null); // 16 = 6 + 5 + 5
    assertClose(params(tmp.resolve("local")), params(tmp.resolve("w3")), 1e-5);
    assertEquals(a.lastLoss(), b.lastLoss(), 1e-5 * Math.abs(a.lastLoss()));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> train(tmp.resolve("w17"), spark(DataParallel.of(BATCH + 1)), 5, null));
    assertTrue(e.getMessage().contains("--workers 17 is more than the 16 examples"), e.getMessage());
  }

  @Test
  void aTaskThatFailsOnceIsRetriedAndChangesNothing() throws Exception {
    AtomicInteger failed = new AtomicInteger();
    SparkListener listener = new SparkListener() {
      @Override
      public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.reason() != Success$.MODULE$) {
          failed.incrementAndGet();
        }
      }
    };
    TrainResult clean = train(tmp.resolve("clean"), spark(DataParallel.of(2)), 5, null);
    SparkTestSupport.spark().sparkContext().addSparkListener(listener);
    TrainResult faulty;
    try {
      faulty = train(tmp.resolve("faulty"), spark(new DataParallel(2, 2, 1, 3)), 5, null);
    } finally {
      SparkTestSupport.spark().sparkContext().listenerBus().waitUntilEmpty();
      SparkTestSupport.spark().sparkContext().removeSparkListener(listener);
    }
    assertEquals(1, failed.get(), "exactly the injected failure");
    assertArrayEquals(clean.losses(), faulty.losses());
    StateDict a = params(tmp.resolve("clean"));
    StateDict b = params(tmp.resolve("faulty"));
    for (Param p : model().parameters()) {
      assertArrayEquals(a.get(p.name()).toFloats(), b.get(p.name()).toFloats(), p.name());
    }
  }

  @Test
  void resumesExactlyFromADataParallelCheckpoint() throws IOException {
    Path whole = tmp.resolve("whole");
    Path split = tmp.resolve("split");
    train(whole, spark(DataParallel.of(2)), 10, null);
    train(split, spark(DataParallel.of(2)), 5, null);
    train(split, spark(DataParallel.of(2)), 10, split.resolve(Checkpoint.FILE_NAME));
    StateDict a = params(whole);
    StateDict b = params(split);
    for (Param p : model().parameters()) {
      assertArrayEquals(a.get(p.name()).toFloats(), b.get(p.name()).toFloats(), p.name());
    }
  }

  /** ‖after − before‖ / ‖before‖ over all parameters together. */
  private static double relativeChange(StateDict before, StateDict after) {
    double d = 0;
    double n = 0;
    for (Param p : model().parameters()) {
      float[] a = before.get(p.name()).toFloats();
      float[] b = after.get(p.name()).toFloats();
      for (int i = 0; i < a.length; i++) {
        d += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
        n += (double) a[i] * a[i];
      }
    }
    return Math.sqrt(d / n);
  }

  /** The query and value thirds of a qkv bias of 3·{@code d} values. */
  private static float[] concat(float[] qkv, int d) {
    float[] out = new float[2 * d];
    System.arraycopy(qkv, 0, out, 0, d);
    System.arraycopy(qkv, 2 * d, out, d, d);
    return out;
  }
}
