package org.twicing.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.training.FashionMnistBatches;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.LrSchedule;
import org.twicing.runtime.train.StepRunner;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;

/**
 * Local SGD ({@code --sync-every K}) on local[2]: with K = 1 and SGD with momentum and weight decay (no clipping),
 * averaging the replicas after every step is the synchronous update, so it equals the single-process run; with
 * K = 3 and AdamW it is a different algorithm, which still resumes exactly from a checkpoint taken at an average.
 */
class LocalSgdTest {
  private static final long STEPS = 12;

  @TempDir
  Path tmp;

  TrainResult train(Path dir, StepRunner.Factory steps, TrainingSpec spec, long stopAt, long checkpointEvery,
      Path resume) throws IOException {
    TaskModel m = DataParallelTrainingTest.model();
    TrainerConfig.Builder b = TrainerConfig.builder(m).spec(spec)
        .schedule(LrSchedule.warmupCosine(0.05, 2, STEPS, 1e-3)).steps(STEPS).stopAt(stopAt).seed(5).runDir(dir)
        .sessionOptions(SessionOptionsSpec.builder().intraOpThreads(1).build()).checkpointEvery(checkpointEvery)
        .out(new PrintWriter(new StringWriter())).progressBar(false);
    if (steps != null) {
      b.stepRunner(steps);
    }
    if (resume != null) {
      b.resumeFrom(resume);
    }
    return new Trainer(b.build()).train(new FashionMnistBatches(
        FashionMnist.load(SparkTestSupport.fmnist()).train(), 16, 5));
  }

  static StepRunner.Factory localSgd(int k) {
    return LocalSgdStepRunner.factory(JavaSparkContext.fromSparkContext(SparkTestSupport.spark().sparkContext()),
        DataParallel.of(2), k);
  }

  @Test
  void averagingEveryStepWithSgdEqualsTheSingleProcessRun() throws IOException {
    TrainingSpec sgd = new TrainingSpec(new CrossEntropy(0.1, -100), new Optimizer.Sgd(0.9, 0.05), 0.0, 0);
    TrainResult a = train(tmp.resolve("local"), null, sgd, STEPS, 0, null);
    TrainResult b = train(tmp.resolve("k1"), localSgd(1), sgd, STEPS, 0, null);
    DataParallelTrainingTest.assertClose(DataParallelTrainingTest.params(tmp.resolve("local")),
        DataParallelTrainingTest.params(tmp.resolve("k1")), 1e-5);
    for (int i = 0; i < STEPS; i++) {
      assertEquals(a.losses()[i], b.losses()[i], 1e-5 * Math.abs(a.losses()[i]), "loss of step " + (i + 1));
    }
  }

  @Test
  void averagingEveryThreeStepsResumesExactlyAndDiffersFromSynchronous() throws IOException {
    TrainingSpec adamw = DataParallelTrainingTest.spec(true);
    train(tmp.resolve("whole"), localSgd(3), adamw, 6, 3, null);
    train(tmp.resolve("split"), localSgd(3), adamw, 3, 3, null);
    train(tmp.resolve("split"), localSgd(3), adamw, 6, 3, tmp.resolve("split").resolve(Checkpoint.FILE_NAME));
    StateDict whole = DataParallelTrainingTest.params(tmp.resolve("whole"));
    StateDict split = DataParallelTrainingTest.params(tmp.resolve("split"));
    for (Param p : DataParallelTrainingTest.model().parameters()) {
      assertArrayEquals(whole.get(p.name()).toFloats(), split.get(p.name()).toFloats(), p.name());
    }
    // Not synchronous training: the single process (which synchronous data parallelism equals) ends elsewhere.
    train(tmp.resolve("local"), null, adamw, 6, 3, null);
    StateDict local = DataParallelTrainingTest.params(tmp.resolve("local"));
    double worst = 0;
    for (Param p : DataParallelTrainingTest.model().parameters()) {
      float[] x = local.get(p.name()).toFloats();
      float[] y = whole.get(p.name()).toFloats();
      for (int i = 0; i < x.length; i++) {
        worst = Math.max(worst, Math.abs(x[i] - y[i]));
      }
    }
    assertTrue(worst > 1e-4, "local SGD with K = 3 should not reproduce synchronous training, max diff " + worst);
  }
}
