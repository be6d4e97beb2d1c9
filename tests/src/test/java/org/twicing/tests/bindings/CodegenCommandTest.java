package org.twicing.tests.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorType;
import org.twicing.models.cli.CliErrorHandler;
import org.twicing.models.cli.CliException;
import org.twicing.models.cli.CliUsageErrorHandler;
import org.twicing.models.cli.CodegenCommand;
import org.twicing.models.cli.TwicingCli;
import picocli.CommandLine;

/** {@code twicing codegen}, run in-process with the CLI's error handling. */
class CodegenCommandTest {
  @TempDir
  Path tmp;

  /** Output and exit code of one run. */
  record Result(int exitCode, String out, String err) { }

  static Result run(String... args) {
    CommandLine cl = new CommandLine(new CodegenCommand());
    cl.setExecutionExceptionHandler(new CliErrorHandler());
    cl.setParameterExceptionHandler(new CliUsageErrorHandler());
    cl.setExitCodeExceptionMapper(e -> e instanceof CliException ce ? ce.exitCode() : TwicingCli.EXIT_FAILURE);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return new Result(cl.execute(args), out.toString(), err.toString());
  }

  @Test
  void presetWithModelWritesSourcesAndModelFilesBesideThem() throws IOException {
    Path out = tmp.resolve("src");
    Result r = run("--model", "vit-fmnist", "--seed", "3", "--package", "com.example.vit", "--out", out.toString(),
        "--with-model");
    assertEquals(0, r.exitCode(), r.err());
    Path pkg = out.resolve("com/example/vit");
    for (String f : List.of("VitFmnist.java", "VitFmnistTrainer.java", "model.onnx", "grads.onnx",
        "train_step.onnx")) {
      assertTrue(Files.isRegularFile(pkg.resolve(f)), f + " missing; output:\n" + r.out());
      assertTrue(r.out().contains("wrote " + pkg.resolve(f)), r.out());
    }
    assertTrue(Files.readString(pkg.resolve("VitFmnist.java")).contains("public final class VitFmnist"));
  }

  @Test
  void presetOptionsShapeTheModelTheBindingDescribes() throws IOException {
    Path out = tmp.resolve("src");
    Result r = run("--model", "lm-tiny", "--attention", "softmax", "--package", "lm", "--out", out.toString());
    assertEquals(0, r.exitCode(), r.err());
    try (Stream<Path> files = Files.list(out.resolve("lm"))) {
      assertEquals(List.of("LmTiny.java"), files.map(p -> p.getFileName().toString()).toList());
    }
    String source = Files.readString(out.resolve("lm/LmTiny.java"));
    assertTrue(source.contains("attention {@code [softmax, softmax, softmax, softmax]}"), source);
    assertTrue(source.contains("public Output run(long[][] tokens) {"), source);
  }

  @Test
  void anyOnnxFileIsBound() throws IOException {
    GraphBuilder g = new GraphBuilder("scorer");
    Value x = g.input("features", TensorType.of(DType.FLOAT32, "n", 4));
    g.output("score", Ops.tanh(x));
    Path onnx = tmp.resolve("scorer.onnx");
    ModelWriter.write(OnnxEmitter.emit(g.build(), EmitOptions.defaults()), onnx);
    Path out = tmp.resolve("src");
    Result r = run("--onnx", onnx.toString(), "--package", "a.b", "--out", out.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertEquals("wrote " + out.resolve("a/b/Scorer.java") + System.lineSeparator(), r.out());
    assertTrue(Files.readString(out.resolve("a/b/Scorer.java")).contains("public Output run(float[][] features)"));
  }

  @Test
  void misuseIsReportedOnOneLine() {
    Path out = tmp.resolve("src");
    Result r = run("--onnx", "x.onnx", "--seed", "1", "--package", "p", "--out", out.toString());
    assertEquals(TwicingCli.EXIT_USAGE, r.exitCode());
    assertTrue(r.err().contains("twicing: error: --with-model, --attention, --twicing-layers and --seed apply to "
        + "--model only"), r.err());

    r = run("--model", "vit-fmnist", "--onnx", "x.onnx", "--package", "p", "--out", out.toString());
    assertEquals(TwicingCli.EXIT_USAGE, r.exitCode());
    assertTrue(r.err().contains("mutually exclusive"), r.err());

    r = run("--model", "vit-fmnist", "--package", "not a package", "--out", out.toString());
    assertEquals(TwicingCli.EXIT_USAGE, r.exitCode());
    assertTrue(r.err().contains("--package: 'not a package' is not a valid Java package name"), r.err());

    r = run("--model", "vit-huge", "--package", "p", "--out", out.toString());
    assertEquals(TwicingCli.EXIT_USAGE, r.exitCode());
    assertTrue(r.err().contains("unknown model preset 'vit-huge'"), r.err());

    r = run("--onnx", tmp.resolve("missing.onnx").toString(), "--package", "p", "--out", out.toString());
    assertEquals(TwicingCli.EXIT_FAILURE, r.exitCode());
    assertTrue(r.err().contains("missing.onnx: no such file"), r.err());
    assertTrue(!Files.exists(out), "nothing is written on failure");
  }
}
