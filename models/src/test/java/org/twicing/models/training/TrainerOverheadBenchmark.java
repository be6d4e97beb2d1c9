package org.twicing.models.training;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;
import org.twicing.runtime.train.Batch;
import org.twicing.runtime.train.BatchSource;
import org.twicing.runtime.train.LrSchedule;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;

/**
 * Measures the trainer's Java-side cost: vit-fmnist, batch 64, the same Fashion-MNIST batches, the trainer's
 * samples/s (step time only) against a bare loop that chains the train_step session's outputs by hand with
 * pre-built input tensors. Off by default; run with
 * {@code mvn -o test -pl models -Dtest=TrainerOverheadBenchmark -Dtwicing.bench=true [-Dtwicing.bench.steps=30]}.
 */
class TrainerOverheadBenchmark {
  @TempDir
  Path tmp;

  @Test
  void trainerVersusBareLoop() throws Exception {
    assumeTrue(Boolean.getBoolean("twicing.bench"), "benchmark: enable with -Dtwicing.bench=true");
    int steps = Integer.getInteger("twicing.bench.steps", 30);
    int rounds = Integer.getInteger("twicing.bench.rounds", 2);
    int threads = Integer.getInteger("twicing.bench.threads", 0);
    String provider = System.getProperty("twicing.bench.provider", "cpu");
    TaskModel model = Zoo.build("vit-fmnist", PresetOptions.defaults());
    StateDict w = StateDict.initialize(model, 0);
    TrainingSpec spec = TrainingSpec.defaults();
    LrSchedule schedule = LrSchedule.warmupCosine(1e-3, 5, steps, 1e-5);
    FashionMnistBatches batches = new FashionMnistBatches(FashionMnist.load().train(), 64, 0);
    List<Batch> fixed = new ArrayList<>();
    for (int i = 0; i < steps; i++) {
      fixed.add(batches.next());
    }
    SessionOptionsSpec options = SessionOptionsSpec.builder().provider(provider).intraOpThreads(threads).build();
    byte[] bytes = OnnxEmitter.emit(TrainingGraphs.trainStep(model, w, spec),
        EmitOptions.builder().parametersAsInputs(true).build()).toByteArray();
    List<String> report = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      double bare = bareLoop(model, w, spec, schedule, fixed, bytes, options);
      TrainResult r = new Trainer(TrainerConfig.builder(model).spec(spec).schedule(schedule).steps(steps)
          .initialWeights(w).runDir(tmp.resolve("run" + round)).sessionOptions(options).finalArtifacts(false)
          .progressBar(false).out(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))
          .build()).train(new Replay(fixed));
      double trainer = r.samplesPerSecond();
      report.add(String.format(Locale.ROOT, "round %d: bare loop %.1f samples/s, trainer %.1f samples/s, trainer "
          + "overhead %.2f%%", round, bare, trainer, 100 * (bare / trainer - 1)));
    }
    report.forEach(System.out::println);
  }

  /** Chains the session by hand: inputs pre-built, outputs of step n fed to step n + 1; returns samples/s. */
  private static double bareLoop(TaskModel model, StateDict w, TrainingSpec spec, LrSchedule schedule,
      List<Batch> fixed, byte[] bytes, SessionOptionsSpec options) throws Exception {
    List<OnnxTensor> owned = new ArrayList<>();
    try (ModelSession s = ModelSession.open(bytes, options)) {
      Map<String, OnnxTensor> state = new LinkedHashMap<>();
      for (Param p : model.parameters()) {
        OnnxTensor t = Tensors.fromHost(w.get(p.name()));
        owned.add(t);
        state.put(p.name(), t);
        for (String st : spec.optimizer().stateNames()) {
          OnnxTensor z = Tensors.fromHost(Tensor.zeros(DType.FLOAT32, p.shape()));
          owned.add(z);
          state.put(p.name() + "." + st, z);
        }
      }
      List<Map<String, OnnxTensor>> inputs = new ArrayList<>();
      for (int i = 0; i < fixed.size(); i++) {
        Batch b = fixed.get(i);
        Map<String, OnnxTensor> m = new HashMap<>();
        m.put(model.inputName(), Tensors.fromBuffer(((FloatBuffer) b.input()).duplicate(), b.inputShape()));
        m.put("labels", Tensors.fromBuffer(b.labels().duplicate(), b.labelShape()));
        m.put("lr", Tensors.floatScalar((float) schedule.at(i + 1)));
        m.put("step", Tensors.longScalar(i + 1));
        owned.addAll(m.values());
        inputs.add(m);
      }
      OrtSession raw = s.raw();
      OrtSession.Result prev = null;
      long samples = 0;
      long t0 = System.nanoTime();
      for (int i = 0; i < fixed.size(); i++) {
        Map<String, OnnxTensor> feeds = new HashMap<>(state);
        feeds.putAll(inputs.get(i));
        OrtSession.Result r = raw.run(feeds);
        float loss = ((OnnxTensor) r.get("loss").get()).getFloatBuffer().get(0);
        if (!Float.isFinite(loss)) {
          throw new IllegalStateException("loss " + loss);
        }
        Map<String, OnnxTensor> next = new LinkedHashMap<>();
        for (String k : state.keySet()) {
          next.put(k, (OnnxTensor) r.get(k + ".next").get());
        }
        if (prev != null) {
          prev.close();
        }
        prev = r;
        state = next;
        samples += fixed.get(i).examples();
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      if (prev != null) {
        prev.close();
      }
      return samples / seconds;
    } finally {
      owned.forEach(OnnxTensor::close);
    }
  }

  /** Replays fixed batches. */
  private static final class Replay implements BatchSource {
    private final List<Batch> batches;
    private int i;

    Replay(List<Batch> batches) {
      this.batches = batches;
    }

    @Override
    public Batch next() {
      return batches.get(i++ % batches.size());
    }

    @Override
    public String position() {
      return Integer.toString(i);
    }

    @Override
    public void seek(String position) {
      i = Integer.parseInt(position);
    }

    @Override
    public String describe() {
      return "replayed batches";
    }
  }
}
