package org.twicing.spark;

import ai.onnxruntime.OnnxTensor;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction2;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
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
 * Local SGD (periodic model averaging, {@code --sync-every K}) on Spark: each of W workers keeps its own replica
 * of the parameters and optimizer state and takes a full {@code train_step} on its shard of every global batch;
 * every K steps, and whenever the trainer reads the state (evaluation, checkpoint, the end), the replicas are
 * averaged, weighted by labelled positions. Between averages only the shard losses reach the driver, so traffic
 * falls K-fold. <b>This is not synchronous training</b>: with K &gt; 1 (or with AdamW or clipping even at K = 1)
 * the replicas follow different trajectories and their average is not the single-process result; with SGD
 * (momentum and weight decay allowed) and no clipping, K = 1 equals it, the update being linear in the
 * gradient.
 *
 * <p>The replicas are an RDD cached on the executors, one partition per worker, re-derived each step from the
 * previous one and the step's shards; a lost partition is recomputed by Spark from that lineage, which starts
 * again at every average, so a failure cannot change the result.
 */
public final class LocalSgdStepRunner implements StepRunner {
  private final JavaSparkContext sc;
  private final DataParallel dp;
  private final int syncEvery;
  private final ModelRef trainStep;
  private final List<String> stateNames;
  private final List<long[]> stateShapes = new ArrayList<>();
  private final String inputName;
  private final boolean floatInput;
  private final long ignoreIndex;
  private JavaRDD<Replica> replicas;
  private Broadcast<float[][]> base;
  private Shared synced;

  private LocalSgdStepRunner(JavaSparkContext sc, DataParallel dp, int syncEvery, TaskModel model,
      StateDict weights, TrainingSpec spec, SessionOptionsSpec options) {
    this.sc = sc;
    this.dp = dp;
    this.syncEvery = syncEvery;
    this.stateNames = TrainerConfig.stateNames(model, spec);
    for (Param p : model.parameters()) {
      stateShapes.add(p.shape());
      for (int i = 0; i < spec.optimizer().stateNames().size(); i++) {
        stateShapes.add(p.shape());
      }
    }
    this.inputName = model.inputName();
    this.floatInput = model.inputType().dtype() == DType.FLOAT32;
    this.ignoreIndex = spec.loss().ignoreIndex();
    EmitOptions asInputs = EmitOptions.builder().parametersAsInputs(true).build();
    byte[] stepModel = OnnxEmitter.emit(TrainingGraphs.trainStep(model, weights, spec), asInputs).toByteArray();
    this.trainStep = ModelRef.broadcast(sc, stepModel, options.provider().name().toLowerCase(Locale.ROOT),
        dp.threads());
  }

  /** The runner factory for {@link TrainerConfig.Builder#stepRunner}: local SGD averaging every {@code k} steps. */
  public static StepRunner.Factory factory(JavaSparkContext sc, DataParallel dp, int k) {
    if (k <= 0) {
      throw new IllegalArgumentException("--sync-every must be positive, got " + k);
    }
    return (model, weights, spec, options) -> new LocalSgdStepRunner(sc, dp, k, model, weights, spec, options);
  }

  @Override
  public Output run(Map<String, OnnxTensor> state, OnnxTensor input, OnnxTensor labels, int examples, float lr,
      long step, boolean read) {
    if (replicas == null) {
      start(state);
    }
    List<Shard> shards = Shard.split(input, labels, dp.workers(), floatInput, ignoreIndex, step);
    JavaRDD<Shard> shardRdd = sc.parallelize(shards, shards.size());
    JavaRDD<Replica> next = replicas.zipPartitions(shardRdd,
        new LocalStep(trainStep, stateNames, stateShapes, inputName, lr, step, dp.failOnceAtStep()));
    next.persist(StorageLevel.MEMORY_ONLY());
    double[] lw = next.map(r -> new double[] {r.weight * r.loss, r.weight})
        .reduce((a, b) -> new double[] {a[0] + b[0], a[1] + b[1]});
    replicas.unpersist(false);
    replicas = next;
    float loss = (float) (lw[0] / lw[1]);
    if (read || step % syncEvery == 0) {
      average();
    }
    synced.retain();
    Shared held = synced;
    return new Output(loss, held.tensors, held::release);
  }

  /** The first replicas: every worker starts from the trainer's initial (or resumed) state. */
  private void start(Map<String, OnnxTensor> state) {
    float[][] values = new float[stateNames.size()][];
    for (int i = 0; i < values.length; i++) {
      values[i] = Tensors.toFloats(state.get(stateNames.get(i)));
    }
    restart(values);
    synced = new Shared(null);
    synced.tensors.putAll(state); // owned by the trainer's previous output; never closed here
  }

  /** Replicas all equal to {@code values}, with a lineage that starts here. */
  private void restart(float[][] values) {
    if (base != null) {
      base.destroy();
    }
    base = sc.broadcast(values);
    Broadcast<float[][]> b = base;
    List<Integer> workers = new ArrayList<>();
    for (int k = 0; k < dp.workers(); k++) {
      workers.add(k);
    }
    if (replicas != null) {
      replicas.unpersist(false);
    }
    replicas = sc.parallelize(workers, workers.size()).map(k -> new Replica(b.value(), 0, 0));
    replicas.persist(StorageLevel.MEMORY_ONLY());
  }

  /** Averages the replicas (weighted by labelled positions) into new state tensors and restarts from them. */
  private void average() {
    List<Replica> all = replicas.collect();
    double total = 0;
    for (Replica r : all) {
      total += r.weight;
    }
    float[][] mean = new float[stateNames.size()][];
    Shared fresh = new Shared(new ArrayList<>());
    for (int i = 0; i < mean.length; i++) {
      int n = all.get(0).values[i].length;
      double[] sum = new double[n];
      for (Replica r : all) {
        float[] v = r.values[i];
        for (int j = 0; j < n; j++) {
          sum[j] += r.weight * (double) v[j];
        }
      }
      mean[i] = new float[n];
      for (int j = 0; j < n; j++) {
        mean[i][j] = (float) (sum[j] / total);
      }
      OnnxTensor t = Tensors.floats(mean[i], stateShapes.get(i));
      fresh.owned.add(t);
      fresh.tensors.put(stateNames.get(i), t);
    }
    synced.release();
    synced = fresh;
    restart(mean);
  }

  @Override
  public void close() {
    if (replicas != null) {
      replicas.unpersist(false);
    }
    if (base != null) {
      base.destroy();
    }
    if (synced != null) {
      synced.release();
    }
    trainStep.destroy();
  }

  /** The last averaged state, shared by the outputs that return it; closed when the last holder lets go. */
  private static final class Shared {
    final Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
    final List<OnnxTensor> owned;
    private final AtomicInteger holders = new AtomicInteger(1);

    Shared(List<OnnxTensor> owned) {
      this.owned = owned;
    }

    void retain() {
      holders.incrementAndGet();
    }

    void release() {
      if (holders.decrementAndGet() == 0 && owned != null) {
        owned.forEach(OnnxTensor::close);
      }
    }
  }

  /** One worker's parameters and optimizer state (in state-name order), its last loss and its weight. */
  static final class Replica implements Serializable {
    private static final long serialVersionUID = 1L;
    final float[][] values;
    final float loss;
    final double weight;

    Replica(float[][] values, float loss, double weight) {
      this.values = values;
      this.loss = loss;
      this.weight = weight;
    }
  }

  /** A worker's step: train_step on its shard from its replica. */
  private record LocalStep(ModelRef trainStep, List<String> names, List<long[]> shapes, String inputName, float lr,
      long step, long failOnceAtStep) implements FlatMapFunction2<Iterator<Replica>, Iterator<Shard>, Replica> {
    @Override
    public Iterator<Replica> call(Iterator<Replica> rs, Iterator<Shard> ss) {
      Replica r = rs.next();
      Shard s = ss.next();
      TaskContext tc = TaskContext.get();
      if (failOnceAtStep > 0 && step == failOnceAtStep && s.index() == 0 && tc != null && tc.attemptNumber() == 0) {
        throw new IllegalStateException("injected failure (" + DataParallel.FAIL_ONCE_PROPERTY + "="
            + failOnceAtStep + ") in the first attempt of worker 0 at step " + step);
      }
      if (s.weight() == 0) {
        return List.of(new Replica(r.values, 0, 0)).iterator();
      }
      ModelSession session = ExecutorSessions.get(trainStep);
      Map<String, OnnxTensor> feeds = new HashMap<>();
      try {
        for (int i = 0; i < names.size(); i++) {
          feeds.put(names.get(i), Tensors.floats(r.values[i], shapes.get(i)));
        }
        feeds.put(inputName, s.inputTensor());
        feeds.put(TrainingGraphs.LABELS, s.labelTensor());
        feeds.put(TrainingGraphs.LR, Tensors.floatScalar(lr));
        feeds.put(TrainingGraphs.STEP, Tensors.longScalar(step));
        try (Results out = session.run(feeds)) {
          float[][] next = new float[names.size()][];
          for (int i = 0; i < next.length; i++) {
            next[i] = out.floats(names.get(i) + ".next");
          }
          return List.of(new Replica(next, out.floats(Trainer.LOSS)[0], s.weight())).iterator();
        }
      } finally {
        feeds.values().forEach(OnnxTensor::close);
      }
    }
  }
}
