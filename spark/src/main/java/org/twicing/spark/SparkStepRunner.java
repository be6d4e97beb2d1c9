package org.twicing.spark;

import ai.onnxruntime.OnnxTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;
import org.twicing.runtime.train.StepRunner;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;

/**
 * A synchronous data-parallel {@link StepRunner} on Spark: each step's global batch is split into W contiguous
 * shards (sizes differing by at most one, so any W up to the batch size works exactly), one Spark task per shard
 * runs the {@code grads} graph on it with the current parameters (broadcast for the step), the shard gradients
 * are summed weighted by labelled positions with {@code treeReduce}, and the driver runs the {@code apply} graph
 * (the optimizer update of {@code train_step}, global-norm clipping included) on their mean. Label smoothing is
 * part of the {@code grads} loss. The result equals one {@code train_step} on the whole batch up to float
 * rounding; a failed task is recomputed by Spark from the same inputs, so retries cannot change it.
 *
 * <p>The grads graph is broadcast once per run and each executor JVM keeps one session for it
 * ({@link ExecutorSessions}); per step the driver ships the parameters (one broadcast) and the shards (in the
 * tasks), and receives one float32 gradient per task.
 */
public final class SparkStepRunner implements StepRunner {
  private final JavaSparkContext sc;
  private final DataParallel dp;
  private final ModelRef grads;
  private final ModelSession apply;
  private final List<String> paramNames = new ArrayList<>();
  private final List<long[]> paramShapes = new ArrayList<>();
  private final List<String> stateNames;
  private final String inputName;
  private final boolean floatInput;
  private final long ignoreIndex;
  private final StepTimes times;

  private SparkStepRunner(JavaSparkContext sc, DataParallel dp, TaskModel model, StateDict weights,
      TrainingSpec spec, SessionOptionsSpec options, StepTimes times) {
    this.sc = sc;
    this.dp = dp;
    this.times = times;
    for (Param p : model.parameters()) {
      paramNames.add(p.name());
      paramShapes.add(p.shape());
    }
    this.stateNames = TrainerConfig.stateNames(model, spec);
    this.inputName = model.inputName();
    this.floatInput = model.inputType().dtype() == DType.FLOAT32;
    this.ignoreIndex = spec.loss().ignoreIndex();
    EmitOptions asInputs = EmitOptions.builder().parametersAsInputs(true).build();
    byte[] gradsModel = OnnxEmitter.emit(TrainingGraphs.grads(model, weights, spec), asInputs).toByteArray();
    byte[] applyModel = OnnxEmitter.emit(TrainingGraphs.apply(model, spec), asInputs).toByteArray();
    this.grads = ModelRef.broadcast(sc, gradsModel, options.provider().name().toLowerCase(Locale.ROOT),
        dp.threads());
    this.apply = ModelSession.open(applyModel, options);
  }

  /** The runner factory for {@link TrainerConfig.Builder#stepRunner}: steps on {@code sc} with {@code dp}, timed into {@code times}. */
  public static StepRunner.Factory factory(JavaSparkContext sc, DataParallel dp, StepTimes times) {
    return (model, weights, spec, options) -> new SparkStepRunner(sc, dp, model, weights, spec, options, times);
  }

  @Override
  public Output run(Map<String, OnnxTensor> state, OnnxTensor input, OnnxTensor labels, int examples, float lr,
      long step, boolean read) {
    long t0 = System.nanoTime();
    long[] inShape = Tensors.shapeOf(input);
    int n = Math.toIntExact(inShape[0]);
    if (dp.workers() > n) {
      throw Shard.tooManyWorkers(dp.workers(), n, step);
    }
    float[][] params = new float[paramNames.size()][];
    for (int i = 0; i < params.length; i++) {
      params[i] = Tensors.toFloats(state.get(paramNames.get(i)));
    }
    List<Shard> shards = Shard.split(input, labels, dp.workers(), floatInput, ignoreIndex, step);
    Broadcast<float[][]> bc = sc.broadcast(params);
    long t1 = System.nanoTime();
    GradientSum total;
    try {
      ShardTask task = new ShardTask(grads, bc, paramNames, paramShapes, inputName, dp.failOnceAtStep());
      total = sc.parallelize(shards, shards.size()).map(task).treeReduce(GradientSum::combine, dp.treeDepth());
    } finally {
      bc.destroy();
    }
    long t2 = System.nanoTime();
    float[] mean = total.mean();
    float loss = (float) (total.lossSum / total.weight);
    Map<String, OnnxTensor> feeds = new HashMap<>(state);
    List<OnnxTensor> owned = new ArrayList<>();
    Results r;
    try {
      int at = 0;
      for (int i = 0; i < paramNames.size(); i++) {
        int len = params[i].length;
        OnnxTensor g = Tensors.floats(Arrays.copyOfRange(mean, at, at + len), paramShapes.get(i));
        at += len;
        owned.add(g);
        feeds.put(paramNames.get(i) + TrainingGraphs.GRAD_SUFFIX, g);
      }
      OnnxTensor lrT = Tensors.floatScalar(lr);
      owned.add(lrT);
      OnnxTensor stepT = Tensors.longScalar(step);
      owned.add(stepT);
      feeds.put(TrainingGraphs.LR, lrT);
      feeds.put(TrainingGraphs.STEP, stepT);
      r = apply.run(feeds);
    } finally {
      owned.forEach(OnnxTensor::close);
    }
    Map<String, OnnxTensor> next = new LinkedHashMap<>();
    for (String name : stateNames) {
      next.put(name, r.tensor(name + ".next"));
    }
    long t3 = System.nanoTime();
    times.add(t1 - t0, t2 - t1, total.computeNanos, t3 - t2, 4L * mean.length * shards.size(),
        4L * mean.length * shards.size());
    return new Output(loss, next, r::close);
  }

  @Override
  public void close() {
    apply.close();
    grads.destroy();
  }

  /** The task: the shard's mean-loss gradient from the executor's grads session. */
  private record ShardTask(ModelRef grads, Broadcast<float[][]> params, List<String> names, List<long[]> shapes,
      String inputName, long failOnceAtStep) implements Function<Shard, GradientSum> {
    @Override
    public GradientSum call(Shard s) {
      TaskContext tc = TaskContext.get();
      if (failOnceAtStep > 0 && s.step() == failOnceAtStep && s.index() == 0 && tc != null
          && tc.attemptNumber() == 0) {
        throw new IllegalStateException("injected failure (" + DataParallel.FAIL_ONCE_PROPERTY + "="
            + failOnceAtStep + ") in the first attempt of shard 0 at step " + s.step());
      }
      long t0 = System.nanoTime();
      if (s.weight() == 0) {
        return GradientSum.empty(0);
      }
      ModelSession session = ExecutorSessions.get(grads);
      float[][] p = params.value();
      Map<String, OnnxTensor> feeds = new HashMap<>();
      List<String> outputs = new ArrayList<>();
      outputs.add(Trainer.LOSS);
      try {
        for (int i = 0; i < names.size(); i++) {
          feeds.put(names.get(i), Tensors.floats(p[i], shapes.get(i)));
          outputs.add(names.get(i) + TrainingGraphs.GRAD_SUFFIX);
        }
        feeds.put(inputName, s.inputTensor());
        feeds.put(TrainingGraphs.LABELS, s.labelTensor());
        try (Results r = session.run(feeds, outputs)) {
          int total = 0;
          for (float[] a : p) {
            total += a.length;
          }
          float[] flat = new float[total];
          int at = 0;
          for (int i = 0; i < names.size(); i++) {
            float[] g = r.floats(outputs.get(i + 1));
            System.arraycopy(g, 0, flat, at, g.length);
            at += g.length;
          }
          float loss = r.floats(Trainer.LOSS)[0];
          return GradientSum.shard(flat, loss, s.weight(), System.nanoTime() - t0);
        }
      } finally {
        feeds.values().forEach(OnnxTensor::close);
      }
    }
  }
}
