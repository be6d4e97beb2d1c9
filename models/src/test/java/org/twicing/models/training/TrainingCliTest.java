package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.io.SafetensorsFile;
import org.twicing.models.cli.CliErrorHandler;
import org.twicing.models.cli.CliException;
import org.twicing.models.cli.CliUsageErrorHandler;
import org.twicing.models.cli.EvalCommand;
import org.twicing.models.cli.PredictCommand;
import org.twicing.models.cli.TrainCommand;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.FashionMnistSubset;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.MetricsLog;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code twicing train / eval / predict} in-process on tiny data: a vit-fmnist run on a 96-image Fashion-MNIST
 * directory, an lm-tiny run on a short text, resume, and every bad-input case giving one line naming the file.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TrainingCliTest {
  @TempDir
  static Path tmp;

  static Path fmnist;
  static Path text;
  static Path vitRun;
  static Path lmRun;

  record Result(int code, String out, String err) {
    String errLine() {
      return err.strip();
    }
  }

  static Result run(String... args) {
    CommandLine cl = TwicingCli.commandLine();
    boolean added = false;
    for (Object c : List.of(new TrainCommand(), new EvalCommand(), new PredictCommand())) {
      String name = c.getClass().getAnnotation(Command.class).name();
      if (!cl.getSubcommands().containsKey(name)) {
        cl.addSubcommand(c);
        added = true;
      }
    }
    if (added) {
      // Commands added after commandLine() configured the hierarchy need the same handlers and exit codes.
      cl.setExecutionExceptionHandler(new CliErrorHandler());
      cl.setParameterExceptionHandler(new CliUsageErrorHandler());
      cl.setExitCodeExceptionMapper(e -> e instanceof CliException ce ? ce.exitCode() : TwicingCli.EXIT_FAILURE);
    }
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Result(code, out.toString(), err.toString());
  }

  /** One line on stderr, naming {@code file}. */
  static void assertOneLineError(Result r, String file) {
    assertEquals(1, r.code(), r.out() + r.err());
    assertEquals(1, r.errLine().lines().count(), r.err());
    assertTrue(r.errLine().startsWith("twicing: error: "), r.err());
    assertTrue(r.errLine().contains(file), "'" + r.errLine() + "' should name " + file);
  }

  @BeforeAll
  static void data() throws IOException {
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    fmnist = tmp.resolve("fmnist");
    Files.createDirectories(fmnist);
    FashionMnistSubset.writeEvenlySpaced(bundled, 64, 32, fmnist);
    text = tmp.resolve("corpus.txt");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 60; i++) {
      sb.append("Line ").append(i).append(": twicing attention smooths the residual once more.\n");
    }
    Files.writeString(text, sb);
  }


  @Test
  @Order(1)
  void trainsVitAndEvaluatesAndPredicts() throws IOException {
    vitRun = tmp.resolve("vit");
    Result r = run("train", "--data-dir", fmnist.toString(), "--steps", "4", "--batch", "8", "--eval-every", "2",
        "--threads", "2", "--out", vitRun.toString());
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("data: Fashion-MNIST from " + fmnist + " (64 train / 32 test images)"), r.out());
    assertTrue(r.out().contains("model: vit-fmnist"), r.out());
    assertTrue(r.out().contains("attention twicing x6"), r.out());
    Matcher m = Pattern.compile("test accuracy (\\d\\.\\d{4}) \\(32 images").matcher(r.out());
    assertTrue(m.find(), r.out());
    assertTrue(r.out().contains("data source: Fashion-MNIST from " + fmnist), r.out());
    for (String f : List.of("checkpoint.safetensors", "model.onnx", "metrics.jsonl", "curves.png")) {
      assertTrue(Files.isRegularFile(vitRun.resolve(f)), f);
    }
    assertEquals(4, MetricsLog.read(vitRun.resolve(MetricsLog.FILE_NAME)).size());
    Checkpoint c = Checkpoint.read(vitRun.resolve(Checkpoint.FILE_NAME));
    assertEquals(4, c.step());
    assertEquals("vit-fmnist", c.meta("twicing.run.preset"));
    assertEquals("0:4", c.dataPosition());

    Result e = run("eval", "--run", vitRun.toString());
    assertEquals(0, e.code(), e.err());
    assertTrue(e.out().startsWith("test accuracy " + m.group(1) + " (32 images"), e.out() + " vs " + m.group(1));
    assertTrue(e.out().contains("checkpoint.safetensors (step 4)"), e.out());

    // Without a checkpoint, eval falls back to model.onnx and gets the same number.
    Path onlyModel = tmp.resolve("only-model");
    Files.createDirectories(onlyModel);
    Files.copy(vitRun.resolve("model.onnx"), onlyModel.resolve("model.onnx"));
    Result e2 = run("eval", "--run", onlyModel.toString(), "--data-dir", fmnist.toString());
    assertEquals(0, e2.code(), e2.err());
    assertTrue(e2.out().startsWith("test accuracy " + m.group(1)), e2.out());

    BufferedImage img = new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB);
    for (int y = 8; y < 32; y++) {
      for (int x = 12; x < 28; x++) {
        img.setRGB(x, y, 0xd0d0d0);
      }
    }
    Path png = tmp.resolve("shirt.png");
    ImageIO.write(img, "png", png.toFile());
    Result p = run("predict", "--run", vitRun.toString(), png.toString());
    assertEquals(0, p.code(), p.err());
    List<String> lines = p.out().lines().toList();
    assertEquals(6, lines.size(), p.out());
    double sum = 0;
    double prev = 1;
    for (int i = 1; i <= 5; i++) {
      Matcher lm = Pattern.compile("^  " + i + "\\. (.+?)\\s+(0\\.\\d{4})$").matcher(lines.get(i));
      assertTrue(lm.find(), lines.get(i));
      assertTrue(FashionMnist.CLASS_NAMES.contains(lm.group(1)), lm.group(1));
      double prob = Double.parseDouble(lm.group(2));
      assertTrue(prob <= prev + 1e-9);
      prev = prob;
      sum += prob;
    }
    assertTrue(sum > 0.3 && sum <= 1.0001, "top-5 mass " + sum);
  }

  @Test
  @Order(2)
  void resumesARunToMoreSteps() throws IOException {
    Path run = tmp.resolve("resumed");
    Result r1 = run("train", "--data-dir", fmnist.toString(), "--steps", "6", "--stop-at", "3", "--batch", "8",
        "--schedule", "constant", "--eval-every", "0", "--threads", "1", "--out", run.toString());
    assertEquals(0, r1.code(), r1.err());
    assertEquals(3, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    Result r2 = run("train", "--resume", run.toString(), "--threads", "1");
    assertEquals(0, r2.code(), r2.err());
    assertTrue(r2.out().contains("training: steps 4..6 of 6"), r2.out());
    Checkpoint c = Checkpoint.read(run.resolve(Checkpoint.FILE_NAME));
    assertEquals(6, c.step());
    assertEquals("0:6", c.dataPosition());
    assertEquals(6, MetricsLog.read(run.resolve(MetricsLog.FILE_NAME)).size());
    Result bad = run("train", "--resume", run.toString(), "--lr", "0.5");
    assertEquals(TwicingCli.EXIT_USAGE, bad.code());
    assertTrue(bad.errLine().contains("--lr") && bad.errLine().contains(run.toString()), bad.err());
  }

  @Test
  @Order(3)
  void trainsTinyLanguageModelAndGenerates() {
    lmRun = tmp.resolve("lm");
    Result r = run("train", "--data", "text:" + text, "--steps", "3", "--batch", "2", "--lr", "3e-3",
        "--optimizer", "sgd", "--momentum", "0.9", "--clip-norm", "1.0", "--label-smoothing", "0.1",
        "--out", lmRun.toString());
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("model: lm-tiny"), r.out());
    assertTrue(r.out().matches("(?s).*validation loss \\d+\\.\\d{4}, perplexity \\d+\\.\\d{3} \\(\\d+ tokens of text:.*"),
        r.out());
    Result e = run("eval", "--run", lmRun.toString());
    assertEquals(0, e.code(), e.err());
    assertTrue(e.out().startsWith("validation loss "), e.out());
    Result p = run("predict", "--run", lmRun.toString(), "--prompt", "Line 7", "--tokens", "12", "--top-k", "5",
        "--seed", "3");
    assertEquals(0, p.code(), p.err());
    assertTrue(p.out().startsWith("Line 7"), p.out());
    Result greedy = run("predict", "--run", lmRun.toString(), "--prompt", "Line 7", "--tokens", "4",
        "--temperature", "0");
    assertEquals(0, greedy.code(), greedy.err());
    Result noPrompt = run("predict", "--run", lmRun.toString());
    assertEquals(TwicingCli.EXIT_USAGE, noPrompt.code());
    assertTrue(noPrompt.errLine().contains("--prompt"), noPrompt.err());
  }

  @Test
  @Order(4)
  void checkpointFromAnotherModelNamesTheFileAndTensor() throws IOException {
    // Resuming the ViT run as a language model: the checkpoint's tensors do not fit.
    Path ckpt = vitRun.resolve(Checkpoint.FILE_NAME);
    Result r = run("train", "--resume", vitRun.toString(), "--model", "lm-tiny", "--data", "text:" + text,
        "--steps", "8");
    assertOneLineError(r, ckpt.toString());
    assertTrue(r.errLine().contains("does not fit model 'lm-tiny'"), r.err());
    assertTrue(r.errLine().contains("tensor '"), r.err());
    // A checkpoint whose metadata claims vit-fmnist but holds the language model's tensors.
    Path mixed = tmp.resolve("mixed");
    Files.createDirectories(mixed);
    SafetensorsFile lm = Safetensors.read(lmRun.resolve(Checkpoint.FILE_NAME));
    SafetensorsFile vit = Safetensors.read(ckpt);
    Map<String, String> meta = new LinkedHashMap<>(vit.metadata());
    Safetensors.write(mixed.resolve(Checkpoint.FILE_NAME), lm.tensors(), meta);
    Result e = run("eval", "--run", mixed.toString(), "--data-dir", fmnist.toString());
    assertOneLineError(e, mixed.resolve(Checkpoint.FILE_NAME).toString());
    assertTrue(e.errLine().matches(".*(missing|unknown) tensor '[^']+'.*"), e.err());
    // Same shapes, other attention: the configuration check names the key.
    Result att = run("train", "--resume", vitRun.toString(), "--attention", "softmax", "--steps", "8");
    assertOneLineError(att, ckpt.toString());
    assertTrue(att.errLine().contains("attention is [twicing"), att.err());
  }

  @Test
  @Order(5)
  void badInputsGiveOneLineNamingTheFile() throws IOException {
    Path missingDir = tmp.resolve("no-such-dir");
    assertOneLineError(run("train", "--data-dir", missingDir.toString(), "--steps", "1"), missingDir.toString());

    Path badIdx = tmp.resolve("bad-idx");
    Files.createDirectories(badIdx);
    for (String f : List.of(FashionMnist.TRAIN_LABELS, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS)) {
      Files.copy(fmnist.resolve(f + ".gz"), badIdx.resolve(f + ".gz"));
    }
    Files.write(badIdx.resolve(FashionMnist.TRAIN_IMAGES), new byte[] {0, 0, 8, 1, 0, 0, 0, 5, 1, 2});
    assertOneLineError(run("train", "--data-dir", badIdx.toString(), "--steps", "1"),
        badIdx.resolve(FashionMnist.TRAIN_IMAGES).toString());

    Path empty = tmp.resolve("empty.txt");
    Files.writeString(empty, "");
    assertOneLineError(run("train", "--data", "text:" + empty, "--steps", "1"), empty.toString());

    Path missingText = tmp.resolve("missing.txt");
    assertOneLineError(run("train", "--data", "text:" + missingText, "--steps", "1"), missingText.toString());

    Path noRun = tmp.resolve("no-run");
    assertOneLineError(run("eval", "--run", noRun.toString()), noRun.toString());
    Path emptyRun = tmp.resolve("empty-run");
    Files.createDirectories(emptyRun);
    assertOneLineError(run("eval", "--run", emptyRun.toString()), emptyRun.toString());

    Path notCkpt = tmp.resolve("not-ckpt");
    Files.createDirectories(notCkpt);
    Files.write(notCkpt.resolve(Checkpoint.FILE_NAME), new byte[] {1, 2, 3, 4});
    assertOneLineError(run("eval", "--run", notCkpt.toString()), notCkpt.resolve(Checkpoint.FILE_NAME).toString());
    assertOneLineError(run("train", "--resume", notCkpt.toString()),
        notCkpt.resolve(Checkpoint.FILE_NAME).toString());

    Path missingPng = tmp.resolve("missing.png");
    assertOneLineError(run("predict", "--run", vitRun.toString(), missingPng.toString()), missingPng.toString());
    Path notPng = tmp.resolve("not-an-image.png");
    Files.writeString(notPng, "hello");
    assertOneLineError(run("predict", "--run", vitRun.toString(), notPng.toString()), notPng.toString());

    Result both = run("train", "--epochs", "1", "--steps", "3");
    assertEquals(TwicingCli.EXIT_USAGE, both.code());
    Result wrongData = run("train", "--model", "lm-tiny", "--data-dir", fmnist.toString(), "--steps", "1");
    assertEquals(1, wrongData.code());
    assertTrue(wrongData.errLine().contains("lm-tiny"), wrongData.err());
    assertFalse(wrongData.err().contains("Exception"), wrongData.err());
  }
}
