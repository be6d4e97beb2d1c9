package org.twicing.tests.importer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.FashionMnistSubset;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.MetricsLog;
import org.twicing.tests.support.OnnxChecker;
import picocli.CommandLine;

/**
 * {@code twicing emit --onnx} and {@code twicing train --onnx} on a Fashion-MNIST MLP exported by PyTorch, in
 * process: checked artifacts with the file contract, frozen initializers, the refusals that name outputs and
 * inputs, and a run whose loss falls and whose resume is bit-identical to an uninterrupted run.
 */
class ForeignTrainingCliTest {
  @TempDir
  static Path tmp;

  static Path fmnist;
  static Path model;

  record Result(int code, String out, String err) { }

  static Result run(String... args) {
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return new Result(cl.execute(args), out.toString(), err.toString());
  }

  @BeforeAll
  static void data() throws IOException {
    model = TorchExports.onnx("fmnist", 17);
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    fmnist = tmp.resolve("fmnist");
    Files.createDirectories(fmnist);
    FashionMnistSubset.writeEvenlySpaced(bundled, 64, 32, fmnist);
  }


  private static Set<String> inputs(Path file) throws IOException {
    return ModelProto.parseFrom(Files.readAllBytes(file)).getGraph().getInputList().stream()
        .map(ValueInfoProto::getName).collect(Collectors.toSet());
  }

  @Test
  void emitWritesCheckedArtifactsWithTheFileContractAndFrozenInitializers() throws IOException {
    Path out = tmp.resolve("emitted");
    Result r = run("emit", "--onnx", model.toString(), "--optimizer", "sgd", "--weight-decay", "0.01", "--frozen",
        "^fc1\\.", "--out", out.toString());
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("330 trainable parameters in 2 initializers (2 frozen), logits 'logits'"),
        r.out());
    for (String f : List.of(ModelArtifacts.MODEL, ModelArtifacts.GRADS, ModelArtifacts.TRAIN_STEP)) {
      OnnxChecker.check(Files.readAllBytes(out.resolve(f)));
    }
    Set<String> step = inputs(out.resolve(ModelArtifacts.TRAIN_STEP));
    assertEquals(Set.of("pixels", "labels", "lr", "step", "fc2.weight", "fc2.bias", "fc2.weight.momentum",
        "fc2.bias.momentum"), step);
    ModelProto grads = ModelProto.parseFrom(Files.readAllBytes(out.resolve(ModelArtifacts.GRADS)));
    assertEquals(List.of("loss", "fc2.weight.grad", "fc2.bias.grad", "pixels.grad"),
        grads.getGraph().getOutputList().stream().map(ValueInfoProto::getName).toList());
    ModelProto inference = ModelProto.parseFrom(Files.readAllBytes(out.resolve(ModelArtifacts.MODEL)));
    assertEquals(List.of("logits"), inference.getGraph().getOutputList().stream().map(ValueInfoProto::getName)
        .toList());
    assertEquals(1, inference.getTrainingInfoCount(), "the training step rides in model.onnx's training_info");
  }

  @Test
  void modelsWithTwoFloatOutputsNeedLogitsAndABadNameListsTheOutputs() throws IOException {
    GraphBuilder g = new GraphBuilder("two");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", 3));
    Value w = g.parameter("w", Tensor.full(DType.FLOAT32, 0.5, 3, 4));
    g.output("scores", Ops.matmul(x, w));
    g.output("features", Ops.relu(x));
    Path two = tmp.resolve("two.onnx");
    Files.write(two, OnnxEmitter.emit(g.build(), EmitOptions.defaults()).toByteArray());
    Result refused = run("emit", "--onnx", two.toString(), "--out", tmp.resolve("two").toString());
    assertEquals(TwicingCli.EXIT_FAILURE, refused.code(), refused.out());
    assertEquals(1, refused.err().strip().lines().count(), refused.err());
    assertTrue(refused.err().contains("2 float outputs") && refused.err().contains("scores")
        && refused.err().contains("features") && refused.err().contains("--logits"), refused.err());
    Result bad = run("emit", "--onnx", two.toString(), "--logits", "probs", "--out", tmp.resolve("two").toString());
    assertTrue(bad.err().contains("'probs'") && bad.err().contains("scores float32[batch, 4]")
        && bad.err().contains("features float32[batch, 3]"), bad.err());
    Result ok = run("emit", "--onnx", two.toString(), "--logits", "scores", "--out", tmp.resolve("two").toString());
    assertEquals(0, ok.code(), ok.err());
    Result noOnnx = run("emit", "--logits", "scores", "--out", tmp.resolve("two").toString());
    assertEquals(TwicingCli.EXIT_USAGE, noOnnx.code());
    assertTrue(noOnnx.err().contains("--logits applies only with --onnx"), noOnnx.err());
  }

  @Test
  void trainingFallsAndResumesBitIdentically() throws IOException {
    String[] common = {"--onnx", model.toString(), "--data-dir", fmnist.toString(), "--steps", "12", "--batch",
        "16", "--lr", "1e-2", "--schedule", "constant", "--warmup", "0", "--eval-every", "0", "--threads", "1"};
    Path whole = tmp.resolve("whole");
    Result r = run(concat(new String[] {"train"}, common, new String[] {"--out", whole.toString()}));
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("model: fmnist_op17.onnx (imported), 25,450 trainable parameters"), r.out());
    List<Map<String, Double>> metrics = MetricsLog.read(whole.resolve(MetricsLog.FILE_NAME));
    double first = (metrics.get(0).get("loss") + metrics.get(1).get("loss") + metrics.get(2).get("loss")) / 3;
    double last = (metrics.get(9).get("loss") + metrics.get(10).get("loss") + metrics.get(11).get("loss")) / 3;
    assertTrue(last < 0.8 * first, "loss should fall: first three steps " + first + ", last three " + last);

    Path split = tmp.resolve("split");
    Result a = run(concat(new String[] {"train"}, common, new String[] {"--stop-at", "5", "--out",
        split.toString()}));
    assertEquals(0, a.code(), a.out() + a.err());
    assertEquals(5, Checkpoint.read(split.resolve(Checkpoint.FILE_NAME)).step());
    Result b = run("train", "--resume", split.toString(), "--threads", "1");
    assertEquals(0, b.code(), b.out() + b.err());
    assertTrue(b.out().contains("training: steps 6..12 of 12"), b.out());
    Map<String, Tensor> once = Safetensors.read(whole.resolve(Checkpoint.FILE_NAME)).tensors();
    Map<String, Tensor> resumed = Safetensors.read(split.resolve(Checkpoint.FILE_NAME)).tensors();
    assertEquals(once.keySet(), resumed.keySet());
    assertTrue(once.containsKey("fc1.weight") && once.containsKey("fc1.weight.exp_avg"), once.keySet().toString());
    for (String k : once.keySet()) {
      assertArrayEquals(once.get(k).toDoubles(), resumed.get(k).toDoubles(), 0.0,
          "resumed " + k + " differs from the whole run");
    }

    Result e = run("eval", "--run", whole.toString(), "--data-dir", fmnist.toString());
    assertEquals(0, e.code(), e.out() + e.err());
    assertTrue(e.out().contains("accuracy"), e.out());

    BufferedImage img = new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB);
    for (int y = 8; y < 32; y++) {
      for (int x = 12; x < 28; x++) {
        img.setRGB(x, y, 0xd0d0d0);
      }
    }
    Path png = tmp.resolve("shirt.png");
    ImageIO.write(img, "png", png.toFile());
    Result p = run("predict", "--run", whole.toString(), png.toString());
    assertEquals(0, p.code(), p.out() + p.err());
    assertTrue(p.out().startsWith("top-5 for " + png + " (fmnist_op17.onnx, step 12):"), p.out());
    assertEquals(6, p.out().lines().count(), p.out());
  }

  @Test
  void aByteLevelLanguageModelTrainsOnTextAndGenerates() throws IOException {
    Path text = tmp.resolve("lines.txt");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 60; i++) {
      sb.append("Line ").append(i).append(": twicing attention smooths the residual once more.\n");
    }
    Files.writeString(text, sb);
    Path runDir = tmp.resolve("bytelm");
    Result r = run("train", "--onnx", TorchExports.onnx("bytelm", 17).toString(), "--data", "text:" + text,
        "--steps", "4", "--batch", "2", "--lr", "3e-3", "--threads", "1", "--out", runDir.toString());
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().matches("(?s).*validation loss \\d+\\.\\d{4}, perplexity .*"), r.out());
    List<Map<String, Double>> metrics = MetricsLog.read(runDir.resolve(MetricsLog.FILE_NAME));
    assertEquals(4, metrics.size());
    assertTrue(metrics.stream().allMatch(m -> Double.isFinite(m.get("loss"))), metrics.toString());
    Result p = run("predict", "--run", runDir.toString(), "--prompt", "Line 7", "--tokens", "5");
    assertEquals(0, p.code(), p.out() + p.err());
    assertTrue(p.out().startsWith("Line 7"), p.out());
  }

  @Test
  void anImageModelGivenTextIsRefusedNamingItsInput() throws IOException {
    Path text = tmp.resolve("corpus.txt");
    Files.writeString(text, "twicing attention smooths the residual once more.\n".repeat(40));
    Result r = run("train", "--onnx", model.toString(), "--data", "text:" + text, "--steps", "1", "--out",
        tmp.resolve("wrong").toString());
    assertEquals(TwicingCli.EXIT_FAILURE, r.code(), r.out());
    assertTrue(r.err().contains("input 'pixels' float32[batch, 1, 28, 28]")
        && r.err().contains("text batches are int64 [batch, T]"), r.err());
    assertFalse(Files.exists(tmp.resolve("wrong").resolve(Checkpoint.FILE_NAME)));
  }

  private static String[] concat(String[]... parts) {
    return Arrays.stream(parts).flatMap(Arrays::stream).toArray(String[]::new);
  }
}
