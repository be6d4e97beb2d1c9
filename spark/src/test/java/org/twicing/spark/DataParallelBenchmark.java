package org.twicing.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Serializable;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.training.FashionMnistBatches;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.LrSchedule;
import org.twicing.runtime.train.StepRunner;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * The numbers in BENCHMARKS.md ("Data-parallel training on Spark"): vit-fmnist at batch 64 on local[2], single
 * process against Spark with W = 1 and 2, the per-step time split, and the cost of one gradient exchange through
 * treeReduce against barrier allGather. Not part of the suite (no *Test name); run it with
 * {@code mvn -pl spark -am verify -Dtest=DataParallelBenchmark -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class DataParallelBenchmark {
  private static final int BATCH = 64;
  private static final long WARM = 2;
  private static final long STEPS = 10;

  @Test
  void measure() throws IOException {
    TaskModel m = Zoo.build("vit-fmnist", PresetOptions.defaults());
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(SparkTestSupport.spark().sparkContext());
    StringBuilder report = new StringBuilder();
    report.append(String.format(Locale.ROOT, "vit-fmnist, %,d parameters, batch %d, %d timed steps after %d warm-up;"
        + " %d cores%n", m.parameterCount(), BATCH, STEPS, WARM, Runtime.getRuntime().availableProcessors()));
    TrainResult local = run(m, null, 2, null);
    report.append(String.format(Locale.ROOT, "single process (2 intra-op threads): %.1f samples/s, %.0f ms/step%n",
        local.samplesPerSecond(), 1000 * local.stepSeconds() / STEPS));
    for (int w : new int[] {1, 2}) {
      int threads = w == 1 ? 2 : 1;
      StepTimes times = new StepTimes();
      DataParallel dp = new DataParallel(w, 2, threads, 0);
      TrainResult r = run(m, t -> SparkStepRunner.factory(sc, dp, t), threads, times);
      report.append(String.format(Locale.ROOT, "spark W=%d (%d intra-op thread(s) per task): %.1f samples/s; %s%n", w,
          threads, r.samplesPerSecond(), times));
    }
    // The bare cost of a W-task job on this master, and of exchanging one gradient-sized message per task.
    int floats = Math.toIntExact(m.parameterCount());
    for (int w : new int[] {1, 2}) {
      report.append(String.format(Locale.ROOT, "W=%d: empty job %.1f ms; treeReduce of %d x %.1f MB float32 %.1f ms;"
          + " barrier allGather of the same as base64 strings %.1f ms%n", w, emptyJob(sc, w),
          w, floats * 4 / 1e6, treeReduce(sc, w, floats), allGather(sc, w, floats)));
    }
    System.out.println("BENCHMARK\n" + report);
    Files.writeString(Path.of("target", "data-parallel-benchmark.txt"), report);
  }

  /** Warm-up then timed steps; {@code steps} makes the step runner for given timings (null: single process). */
  private TrainResult run(TaskModel m, Function<StepTimes, StepRunner.Factory> steps, int threads,
      StepTimes timed) throws IOException {
    Path dir = Files.createTempDirectory("twicing-bench");
    TrainerConfig.Builder b = TrainerConfig.builder(m).schedule(LrSchedule.constant(1e-3)).steps(WARM + STEPS)
        .seed(1).runDir(dir).sessionOptions(SessionOptionsSpec.builder().intraOpThreads(threads).build())
        .checkpointEvery(0).finalArtifacts(false).out(new PrintWriter(new StringWriter())).progressBar(false);
    if (steps != null) {
      b.stepRunner(steps.apply(new StepTimes()));
    }
    // Warm-up steps then timed steps, as two calls (resume) so that TrainResult times only the second.
    TrainerConfig warm = b.stopAt(WARM).build();
    FashionMnist data = FashionMnist.load();
    new Trainer(warm).train(new FashionMnistBatches(data.train(), BATCH, 1));
    b.stopAt(WARM + STEPS).resumeFrom(dir.resolve("checkpoint.safetensors"));
    if (steps != null) {
      b.stepRunner(steps.apply(timed));
    }
    return new Trainer(b.build()).train(new FashionMnistBatches(data.train(), BATCH, 1));
  }

  private static double emptyJob(JavaSparkContext sc, int w) {
    List<Integer> xs = new ArrayList<>();
    for (int i = 0; i < w; i++) {
      xs.add(i);
    }
    sc.parallelize(xs, w).map(x -> x).treeReduce(Integer::sum, 2);
    long t0 = System.nanoTime();
    for (int i = 0; i < 10; i++) {
      sc.parallelize(xs, w).map(x -> x).treeReduce(Integer::sum, 2);
    }
    return (System.nanoTime() - t0) / 10 / 1e6;
  }

  private static double treeReduce(JavaSparkContext sc, int w, int floats) {
    List<Integer> xs = new ArrayList<>();
    for (int i = 0; i < w; i++) {
      xs.add(i);
    }
    JavaRDD<Integer> rdd = sc.parallelize(xs, w);
    rdd.map(x -> new float[floats]).treeReduce(DataParallelBenchmark::add, 2);
    long t0 = System.nanoTime();
    for (int i = 0; i < 5; i++) {
      rdd.map(x -> new float[floats]).treeReduce(DataParallelBenchmark::add, 2);
    }
    return (System.nanoTime() - t0) / 5 / 1e6;
  }

  private static float[] add(float[] a, float[] b) {
    for (int i = 0; i < a.length; i++) {
      a[i] += b[i];
    }
    return a;
  }

  /** A barrier task's body: allGather one gradient-sized message and sum what every task sent. */
  private static final class GatherOnce extends AbstractFunction1<Iterator<Integer>,
      Iterator<Integer>> implements Serializable {
    private final int floats;

    GatherOnce(int floats) {
      this.floats = floats;
    }

    @Override
    public Iterator<Integer> apply(Iterator<Integer> it) {
      BarrierTaskContext ctx = BarrierTaskContext.get();
      String msg = Base64.getEncoder().encodeToString(new byte[floats * 4]);
      String[] all = ctx.allGather(msg);
      float[] sum = new float[floats];
      for (String s : all) {
        ByteBuffer bb = ByteBuffer.wrap(Base64.getDecoder().decode(s))
            .order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < floats; i++) {
          sum[i] += bb.getFloat();
        }
      }
      return CollectionConverters.asScala(List.of(sum.length).iterator());
    }
  }

  /** One allGather round per task, carrying the gradient as base64 (allGather takes strings), in a barrier stage. */
  private static double allGather(JavaSparkContext sc, int w, int floats) {
    List<Integer> xs = new ArrayList<>();
    for (int i = 0; i < w; i++) {
      xs.add(i);
    }
    JavaRDD<Integer> rdd = sc.parallelize(xs, w);
    double[] best = {Double.MAX_VALUE};
    for (int round = 0; round < 3; round++) {
      long t0 = System.nanoTime();
      new JavaRDD<>(rdd.rdd().barrier().mapPartitions(new GatherOnce(floats), false,
          ClassTag$.MODULE$.apply(Integer.class)), ClassTag$.MODULE$.apply(Integer.class))
          .collect();
      best[0] = Math.min(best[0], (System.nanoTime() - t0) / 1e6);
    }
    return best[0];
  }
}
