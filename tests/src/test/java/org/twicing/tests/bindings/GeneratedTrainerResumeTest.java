package org.twicing.tests.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.tests.bindings.GeneratedCode.call;
import static org.twicing.tests.bindings.GeneratedCode.callStatic;
import static org.twicing.tests.bindings.GeneratedCode.get;
import static org.twicing.tests.bindings.GeneratedCode.types;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.bindings.BindingGenerator;
import org.twicing.codegen.bindings.GeneratedSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.IdxFile;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.RunSettings;
import org.twicing.models.training.TrainingData;
import org.twicing.runtime.bindings.TrainingState;
import org.twicing.runtime.train.Batch;
import org.twicing.runtime.train.BatchSource;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.LrSchedule;
import picocli.CommandLine;

/**
 * Generated trainers and {@code twicing train} share one checkpoint format: a {@code twicing train} checkpoint
 * resumes in the generated trainer with its exact tensors, and the generated trainer's checkpoint resumes with
 * {@code twicing train --resume}, whose next steps match those the generated trainer takes from the same state on
 * the same batches.
 */
class GeneratedTrainerResumeTest {
  private static final Class<?>[] STEP = types(float[][][][].class, long[].class, float.class);

  @TempDir
  Path tmp;

  record Result(int code, String out, String err) { }

  static Result twicing(String... args) {
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return new Result(cl.execute(args), out.toString(), err.toString());
  }

  @Test
  void checkpointsPassBothWaysBetweenTwicingTrainAndAGeneratedTrainer() throws Throwable {
    Path fmnist = fashionMnistSubset(tmp.resolve("fmnist"));
    Path runA = tmp.resolve("run-a");
    Result a = twicing("train", "--data-dir", fmnist.toString(), "--steps", "6", "--stop-at", "2", "--batch", "8",
        "--schedule", "constant", "--eval-every", "0", "--threads", "1", "--out", runA.toString());
    assertEquals(0, a.code(), a.out() + a.err());
    Checkpoint fromCli = Checkpoint.read(runA.resolve(Checkpoint.FILE_NAME));
    assertEquals(2, fromCli.step());

    // The same model and training spec, emitted for the generated bindings.
    RunSettings settings = RunSettings.fromMetadata(fromCli.metadata(), "run-a");
    TaskModel model = settings.model();
    Path dir = tmp.resolve("emitted");
    ModelArtifacts.writeAll(model, StateDict.initialize(model, 99), settings.spec(), dir, EmitOptions.defaults());
    List<GeneratedSource> files = new BindingGenerator("gen.resume").generate(dir.resolve(ModelArtifacts.MODEL));
    TrainingData data = TrainingData.load(settings.data(), Path.of(settings.dataDir()));
    LrSchedule lr = settings.lrSchedule();

    Path runB = tmp.resolve("run-b");
    Path saved = tmp.resolve("saved-at-4.safetensors");
    try (GeneratedCode code = GeneratedCode.compile(files, tmp.resolve("build"))) {
      Class<?> trainerType = code.type(BindingGenerator.className(
          ModelSummary.readModel(dir.resolve(ModelArtifacts.MODEL)), "model") + "Trainer");

      // twicing train -> generated trainer: the exact tensors and the step count.
      Object trainer = callStatic(trainerType, "load", types(Path.class, Path.class), dir,
          runA.resolve(Checkpoint.FILE_NAME));
      try (AutoCloseable closing = (AutoCloseable) trainer) {
        assertEquals(2L, get(trainer, "steps"));
        TrainingState state = (TrainingState) get(trainer, "state");
        Map<String, Tensor> stored = Safetensors.read(runA.resolve(Checkpoint.FILE_NAME)).tensors();
        assertEquals(stored.keySet(), Set.copyOf(state.names()));
        for (String name : state.names()) {
          assertArrayEquals(stored.get(name).toFloats(), state.values(name), name);
        }
        BatchSource source = data.trainBatches(model, settings.batch(), settings.seed());
        source.seek(fromCli.dataPosition());
        step(trainer, source.next(), lr.at(3));
        step(trainer, source.next(), lr.at(4));
        call(trainer, "save", types(Path.class), runB.resolve(Checkpoint.FILE_NAME));
      }
      Files.copy(runB.resolve(Checkpoint.FILE_NAME), saved);

      // generated trainer -> twicing train --resume: it continues at step 5 from the generated trainer's state.
      Result b = twicing("train", "--resume", runB.toString(), "--threads", "1");
      assertEquals(0, b.code(), b.out() + b.err());
      assertTrue(b.out().contains("training: steps 5..6 of 6"), b.out());
      Checkpoint fromResume = Checkpoint.read(runB.resolve(Checkpoint.FILE_NAME));
      assertEquals(6, fromResume.step());

      // Reference: the generated trainer's own steps 5 and 6 from its saved state, on the batches the CLI read
      // (the data position it carried over from the checkpoint it resumed from).
      Object reference = callStatic(trainerType, "load", types(Path.class, Path.class), dir, saved);
      try (AutoCloseable closing = (AutoCloseable) reference) {
        BatchSource source = data.trainBatches(model, settings.batch(), settings.seed());
        source.seek(Checkpoint.read(saved).dataPosition());
        step(reference, source.next(), lr.at(5));
        step(reference, source.next(), lr.at(6));
        TrainingState state = (TrainingState) get(reference, "state");
        Map<String, Tensor> resumed = Safetensors.read(runB.resolve(Checkpoint.FILE_NAME)).tensors();
        Map<String, Tensor> before = Safetensors.read(saved).tensors();
        double moved = 0;
        for (String name : state.names()) {
          float[] expected = state.values(name);
          float[] actual = resumed.get(name).toFloats();
          float[] start = before.get(name).toFloats();
          for (int i = 0; i < expected.length; i++) {
            // Not bit-exact: the CLI ran on one thread, the generated trainer with ONNX Runtime's default threads.
            assertEquals(expected[i], actual[i], 1e-6 + 1e-5 * Math.abs(expected[i]), name + "[" + i + "]");
            moved = Math.max(moved, Math.abs(actual[i] - start[i]));
          }
        }
        assertTrue(moved > 1e-4, "twicing train --resume did not change the parameters (max change " + moved + ")");
      }
    }
  }

  /** One step of a generated trainer on a batch of Fashion-MNIST images. */
  private static void step(Object trainer, Batch batch, double lr) throws Throwable {
    long[] shape = batch.inputShape();
    FloatBuffer in = ((FloatBuffer) batch.input()).duplicate();
    float[][][][] pixels = new float[(int) shape[0]][(int) shape[1]][(int) shape[2]][(int) shape[3]];
    for (float[][][] item : pixels) {
      for (float[][] channel : item) {
        for (float[] row : channel) {
          in.get(row);
        }
      }
    }
    long[] labels = new long[batch.labels().remaining()];
    batch.labels().duplicate().get(labels);
    call(trainer, "step", STEP, pixels, labels, (float) lr);
  }

  /** 64 training and 32 test images of the bundled Fashion-MNIST subset, as IDX files in {@code dir}. */
  private static Path fashionMnistSubset(Path dir) throws IOException {
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    Files.createDirectories(dir);
    write(bundled.train(), 64, dir, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS);
    write(bundled.test(), 32, dir, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS);
    return dir;
  }

  private static void write(LabeledImages all, int n, Path dir, String images, String labels) throws IOException {
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) {
      idx[i] = i * (all.size() / n);
    }
    LabeledImages sub = all.select(idx, "sub");
    IdxFile.write(dir.resolve(images + ".gz"), IdxFile.IMAGES_MAGIC, new int[] {n, 28, 28}, sub.rawPixels(), true);
    IdxFile.write(dir.resolve(labels + ".gz"), IdxFile.LABELS_MAGIC, new int[] {n}, sub.rawLabels(), true);
  }
}
