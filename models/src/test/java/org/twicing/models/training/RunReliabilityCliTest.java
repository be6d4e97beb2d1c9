package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.FashionMnistSubset;
import org.twicing.models.training.TrainingCliTest.Result;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.MetricsLog;
import org.twicing.runtime.train.RunLock;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.io.SafetensorsFile;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.types.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Run directories through the command line: an existing run is never overwritten silently, a locked run refuses a
 * second trainer but can be read, and damaged run files give one line naming the file.
 */
class RunReliabilityCliTest {
  @TempDir
  static Path tmp;

  static Path fmnist;

  @BeforeAll
  static void data() throws IOException {
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    fmnist = tmp.resolve("fmnist");
    Files.createDirectories(fmnist);
    FashionMnistSubset.writeEvenlySpaced(bundled, 32, 16, fmnist);
  }


  static Result train(Path out, String... more) {
    String[] base = {"train", "--data-dir", fmnist.toString(), "--steps", "2", "--batch", "4", "--eval-every", "0",
        "--threads", "1", "--out", out.toString()};
    String[] args = Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, args, base.length, more.length);
    return TrainingCliTest.run(args);
  }

  @Test
  void trainRefusesAnExistingRunUnlessResumingOrOverwriting() throws IOException {
    Path run = tmp.resolve("existing");
    Result first = train(run);
    assertEquals(0, first.code(), first.err());
    byte[] checkpoint = Files.readAllBytes(run.resolve(Checkpoint.FILE_NAME));
    Result again = train(run, "--seed", "5");
    assertEquals(TwicingCli.EXIT_USAGE, again.code(), again.out() + again.err());
    assertEquals(1, again.errLine().lines().count(), again.err());
    assertTrue(again.errLine().startsWith("twicing: error: " + run + ": already holds a run"), again.err());
    assertTrue(again.errLine().contains("--resume") && again.errLine().contains("--overwrite"), again.err());
    assertTrue(!again.out().contains("data:"), "refused before loading data: " + again.out());
    assertArrayEquals(checkpoint, Files.readAllBytes(run.resolve(Checkpoint.FILE_NAME)));

    Result over = train(run, "--seed", "5", "--stop-at", "1", "--overwrite");
    assertEquals(0, over.code(), over.err());
    assertTrue(over.out().contains("--overwrite: deleted the previous run's"), over.out());
    assertEquals(1, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    assertEquals(1, MetricsLog.read(run.resolve(MetricsLog.FILE_NAME)).size());
  }

  @Test
  void aLockedRunRefusesASecondTrainerButCanBeEvaluated() throws IOException {
    Path run = tmp.resolve("locked");
    assertEquals(0, train(run).code());
    try (RunLock lock = RunLock.acquire(run, line -> { })) {
      Result resumed = TrainingCliTest.run("train", "--resume", run.toString(), "--steps", "3", "--threads", "1");
      assertEquals(1, resumed.code(), resumed.out() + resumed.err());
      assertTrue(resumed.errLine().contains(run + ": run directory is in use by pid "
          + ProcessHandle.current().pid()), resumed.err());
      assertEquals(2, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
      Result eval = TrainingCliTest.run("eval", "--run", run.toString(), "--threads", "1");
      assertEquals(0, eval.code(), eval.err());
      assertTrue(eval.out().startsWith("test accuracy "), eval.out());
    }
  }

  /** A copy of {@code run}'s checkpoint in a new run directory with element 3 of {@code tensor} set to {@code v}. */
  private static Path withValue(Path run, String name, String tensor, double v) throws IOException {
    SafetensorsFile f = Safetensors.read(run.resolve(Checkpoint.FILE_NAME));
    Map<String, Tensor> tensors = new LinkedHashMap<>(f.tensors());
    Tensor t = tensors.get(tensor);
    double[] d = t.toDoubles();
    d[3] = v;
    tensors.put(tensor, new Tensor(t.dtype(), t.shape(), d));
    Path dir = Files.createDirectories(tmp.resolve(name));
    Safetensors.write(dir.resolve(Checkpoint.FILE_NAME), tensors, f.metadata());
    return dir;
  }

  @Test
  void nonFiniteWeightsAreAnErrorNamingTheTensorInEveryCommand() throws IOException {
    Path run = tmp.resolve("finite");
    assertEquals(0, train(run).code());
    Set<String> names = Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).entries().keySet();
    String param = names.stream().filter(n -> names.stream().anyMatch(o -> o.startsWith(n + "."))).findFirst()
        .orElseThrow();
    String state = names.stream().filter(n -> n.startsWith(param + ".")).findFirst().orElseThrow();
    Path nanRun = withValue(run, "nan-param", param, Double.NaN);
    Path nanFile = nanRun.resolve(Checkpoint.FILE_NAME);
    String png = tmp.resolve("grey.png").toString();
    ImageIO.write(new BufferedImage(28, 28,
        BufferedImage.TYPE_BYTE_GRAY), "png", new File(png));
    for (String[] args : List.of(
        new String[] {"eval", "--run", nanRun.toString()},
        new String[] {"predict", "--run", nanRun.toString(), png},
        new String[] {"emit", "--weights", nanFile.toString(), "--out", tmp.resolve("nan-emit").toString()},
        new String[] {"train", "--resume", nanRun.toString(), "--steps", "3"})) {
      Result r = TrainingCliTest.run(args);
      String what = String.join(" ", args) + " -> " + r.err();
      TrainingCliTest.assertOneLineError(r, nanFile.toString());
      assertTrue(r.errLine().contains("tensor '" + param + "' holds a non-finite value (element 3 is NaN)"), what);
    }
    assertEquals(2, Checkpoint.read(nanFile).step(), "resume wrote nothing");
    // NaN only in the optimizer state: the weights are usable, but training cannot continue from that state.
    Path nanState = withValue(run, "nan-state", state, Double.POSITIVE_INFINITY);
    assertEquals(0, TrainingCliTest.run("eval", "--run", nanState.toString()).code());
    Result resume = TrainingCliTest.run("train", "--resume", nanState.toString(), "--steps", "3");
    TrainingCliTest.assertOneLineError(resume, nanState.resolve(Checkpoint.FILE_NAME).toString());
    assertTrue(resume.errLine().contains("tensor '" + state + "' holds a non-finite value (element 3 is Infinity)"),
        resume.err());
    // A plain safetensors file given to --weights.
    SafetensorsFile good = Safetensors.read(run.resolve(Checkpoint.FILE_NAME));
    Map<String, Tensor> params = new LinkedHashMap<>();
    good.tensors().forEach((n, t) -> {
      if (!n.startsWith(param + ".") && names.stream().noneMatch(p -> n.startsWith(p + ".") && !p.equals(n))) {
        params.put(n, t);
      }
    });
    Tensor t = params.get(param);
    double[] d = t.toDoubles();
    d[0] = Double.NEGATIVE_INFINITY;
    params.put(param, new Tensor(t.dtype(), t.shape(), d));
    Path plain = tmp.resolve("inf.safetensors");
    Safetensors.write(plain, params, Map.of());
    Result emit = TrainingCliTest.run("emit", "--weights", plain.toString(), "--out", tmp.resolve("inf").toString());
    TrainingCliTest.assertOneLineError(emit, plain.toString());
    assertTrue(emit.errLine().contains("tensor '" + param + "' holds a non-finite value (element 0 is -Infinity)"),
        emit.err());
  }

  @Test
  void emitAcceptsATrainingCheckpointAsWeightsIgnoringItsOptimizerState() throws IOException {
    Path run = tmp.resolve("for-emit");
    assertEquals(0, train(run).code());
    Path out = tmp.resolve("emitted");
    Result r = TrainingCliTest.run("emit", "--weights", run.resolve(Checkpoint.FILE_NAME).toString(),
        "--inference-only", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    // The emitted model carries exactly the checkpoint's parameters.
    StateDict expected = Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).parameters(
        Zoo.build("vit-fmnist", PresetOptions.defaults()));
    OnnxProtos.ModelProto m = ModelSummary.readModel(
        out.resolve("model.onnx"));
    int checked = 0;
    for (var init : m.getGraph().getInitializerList()) {
      Tensor want = expected.get(init.getName());
      if (want != null) {
        FloatBuffer got = init.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN)
            .asFloatBuffer();
        for (int i = 0; i < want.size(); i++) {
          assertEquals((float) want.get(i), got.get(i), 0f, init.getName());
        }
        checked++;
      }
    }
    assertEquals(expected.asMap().size(), checked);
  }

  @Test
  void analyzePrintsItsResultsAndFailsOnlyOnTheWriteNamingTheFile() throws IOException {
    Path run = tmp.resolve("analyzed");
    assertEquals(0, train(run).code());
    // An unwritable report path (as root, permissions do not stop writes: a directory in the way does).
    Files.createDirectories(run.resolve("analysis.json").resolve("in-the-way"));
    Result r = TrainingCliTest.run("analyze", "--run", run.toString(), "--examples", "8", "--batch", "8",
        "--threads", "1");
    Path report = run.resolve("analysis.json");
    TrainingCliTest.assertOneLineError(r, report.toString());
    assertTrue(r.errLine().contains("cannot write the report " + report), r.err());
    assertTrue(r.out().matches("(?s).*clean accuracy +\\d\\.\\d{4}\n.*"), r.out());
    // --out puts the report elsewhere.
    Path elsewhere = tmp.resolve("report.json");
    Result ok = TrainingCliTest.run("analyze", "--run", run.toString(), "--examples", "8", "--batch", "8",
        "--threads", "1", "--out", elsewhere.toString());
    assertEquals(0, ok.code(), ok.err());
    assertTrue(Files.readString(elsewhere).contains("\"clean_accuracy\""), Files.readString(elsewhere));
    assertTrue(ok.out().contains("wrote " + elsewhere), ok.out());
  }
}
