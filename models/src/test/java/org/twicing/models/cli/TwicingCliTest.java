package org.twicing.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import picocli.CommandLine;

/** Runs the {@code twicing} command line in-process and checks its output and exit codes. */
class TwicingCliTest {

  @TempDir
  Path tmp;

  /** Output and exit code of one in-process run. */
  record Result(int exitCode, String out, String err) { }

  /** Runs the CLI exactly as {@link TwicingCli#main} would, but capturing stdout and stderr. */
  static Result run(String... args) {
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Result(code, out.toString(), err.toString());
  }

  /** A two-op model (MatMul then Relu) with one parameter, emitted and written by twicing itself. */
  private Path twicingModel() throws IOException {
    GraphBuilder g = new GraphBuilder("demo");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", 4));
    Value w = g.parameter("w", Tensor.randn(DType.FLOAT32, new Random(0), 1.0, 4, 3));
    g.output("y", Ops.relu(Ops.matmul(x, w)));
    Graph graph = g.build();
    Path file = tmp.resolve("demo.onnx");
    ModelWriter.write(OnnxEmitter.emit(graph, EmitOptions.defaults()), file);
    return file;
  }

  @Test
  void inspectPrintsInputsOutputsAndOpHistogramOfATwicingModel() throws IOException {
    Path file = twicingModel();
    Result r = run("inspect", file.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertEquals("", r.err());
    assertTrue(r.out().contains("x float32[batch, 4]"), r.out());
    assertTrue(r.out().contains("y float32[batch, 3]"), r.out());
    assertTrue(r.out().matches("(?s).*\\n  MatMul +1\\n.*"), r.out());
    assertTrue(r.out().matches("(?s).*\\n  Relu +1\\n.*"), r.out());
    assertTrue(r.out().contains("parameters: 12 in 1 initializers (48 bytes)"), r.out());
    assertTrue(r.out().contains("ai.onnx=" + EmitOptions.DEFAULT_OPSET), r.out());
  }

  @Test
  void inspectCountsExternalDataWithoutReadingIt() throws IOException {
    Path inline = twicingModel();
    Path external = tmp.resolve("external.onnx");
    // Threshold 1 byte moves every initializer to external.onnx.data.
    ModelWriter.write(ModelSummary.readModel(inline), external, 1);
    assertTrue(Files.exists(tmp.resolve("external.onnx.data")));
    Result r = run("inspect", external.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.out().contains("parameters: 12 in 1 initializers (48 bytes)"), r.out());
  }

  @Test
  void inspectOfAMissingFileIsAOneLineErrorNamingIt() {
    Path missing = tmp.resolve("no-such-model.onnx");
    Result r = run("inspect", missing.toString());
    assertEquals(1, r.exitCode());
    assertEquals("", r.out());
    assertOneLineError(r.err(), missing.toString());
  }

  @Test
  void inspectOfAGarbageFileIsAOneLineErrorNamingIt() throws IOException {
    Path garbage = tmp.resolve("garbage.onnx");
    Files.writeString(garbage, "this is not an ONNX model\n", StandardCharsets.UTF_8);
    Result r = run("inspect", garbage.toString());
    assertEquals(1, r.exitCode());
    assertOneLineError(r.err(), garbage.toString());
    assertTrue(r.err().contains("not a valid ONNX model"), r.err());
  }

  @Test
  void inspectOfAnEmptyFileOrADirectoryNamesIt() throws IOException {
    Path empty = Files.createFile(tmp.resolve("empty.onnx"));
    Result r = run("inspect", empty.toString());
    assertEquals(1, r.exitCode());
    assertOneLineError(r.err(), empty.toString());

    Path dir = Files.createDirectory(tmp.resolve("dir.onnx"));
    r = run("inspect", dir.toString());
    assertEquals(1, r.exitCode());
    assertOneLineError(r.err(), dir.toString());
  }

  @Test
  void verboseAddsTheStackTrace() {
    Path missing = tmp.resolve("missing.onnx");
    Result r = run("--verbose", "inspect", missing.toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.err().startsWith("twicing: error: " + missing), r.err());
    assertTrue(r.err().contains("\tat "), r.err());
    assertTrue(r.err().contains("NoSuchFileException"), r.err());
  }

  @Test
  void inspectOfAModelFromTheOnnxPythonPackage() throws Exception {
    Path python = Path.of("/usr/bin/python3");
    boolean available = Files.isExecutable(python)
        && exec(List.of(python.toString(), "-c", "import onnx")).exitCode() == 0;
    // CI (.ci/run) sets twicing.requireReferences so that a missing reference fails rather than skips.
    assertTrue(available || !Boolean.getBoolean("twicing.requireReferences"),
        "/usr/bin/python3 cannot import onnx (twicing.requireReferences is set: a missing reference fails)");
    assumeTrue(available, "/usr/bin/python3 cannot import onnx");
    Path file = tmp.resolve("from-python.onnx");
    String script = String.join("\n",
        "import sys, numpy as np, onnx",
        "from onnx import helper, numpy_helper, TensorProto",
        "b = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), name='b')",
        "nodes = [helper.make_node('Add', ['a', 'b'], ['s']),",
        "         helper.make_node('Tanh', ['s'], ['t']),",
        "         helper.make_node('ReduceSum', ['t'], ['out'], keepdims=0)]",
        "graph = helper.make_graph(nodes, 'pygraph',",
        "    [helper.make_tensor_value_info('a', TensorProto.FLOAT, ['n', 3])],",
        "    [helper.make_tensor_value_info('out', TensorProto.FLOAT, [])], initializer=[b])",
        "model = helper.make_model(graph, producer_name='onnx-python-test',",
        "    opset_imports=[helper.make_opsetid('', 13)])",
        "onnx.checker.check_model(model)",
        "onnx.save(model, sys.argv[1])");
    ProcResult p = exec(List.of(python.toString(), "-c", script, file.toString()));
    assertEquals(0, p.exitCode(), "python failed to write the model: " + p.output());

    Result r = run("inspect", file.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.out().contains("onnx-python-test"), r.out());
    assertTrue(r.out().contains("a float32[n, 3]"), r.out());
    assertTrue(r.out().contains("out float32[]"), r.out());
    assertTrue(r.out().contains("ai.onnx=13"), r.out());
    for (String op : List.of("Add", "Tanh", "ReduceSum")) {
      assertTrue(r.out().matches("(?s).*\\n  " + op + " +1\\n.*"), op + " missing from:\n" + r.out());
    }
    assertTrue(r.out().contains("parameters: 6 in 1 initializers (24 bytes)"), r.out());
  }

  @Test
  void everyCommandAnswersHelp() {
    Result top = run("--help");
    assertEquals(0, top.exitCode(), top.err());
    CommandLine cl = TwicingCli.commandLine();
    assertFalse(cl.getSubcommands().isEmpty());
    for (String name : cl.getSubcommands().keySet()) {
      assertTrue(top.out().contains("  " + name + " "), name + " not listed in:\n" + top.out());
      Result r = run(name, "--help");
      assertEquals(0, r.exitCode(), name + " --help: " + r.err());
      assertTrue(r.out().contains("Usage: twicing " + name + " "), name + " --help printed:\n" + r.out());
    }
  }

  @Test
  void helpSubcommandVersionAndUsageErrors() {
    Result help = run("help", "inspect");
    assertEquals(0, help.exitCode());
    assertTrue(help.out().contains("FILE.onnx"), help.out());

    Result version = run("--version");
    assertEquals(0, version.exitCode());
    assertTrue(version.out().startsWith("twicing "), version.out());

    Result none = run();
    assertEquals(2, none.exitCode());
    assertTrue(none.err().contains("Usage: twicing"), none.err());

    Result typo = run("inspct");
    assertEquals(2, typo.exitCode());
    assertTrue(typo.err().startsWith("twicing: error: "), typo.err());
    assertTrue(typo.err().contains("inspect"), "should suggest inspect: " + typo.err());

    Result noFile = run("inspect");
    assertEquals(2, noFile.exitCode());
    assertTrue(noFile.err().contains("FILE.onnx"), noFile.err());
  }

  @Test
  void classpathPrintsTheLauncherClasspathOrTheJvmOne() {
    String old = System.getProperty(ClasspathCommand.CLASSPATH_PROPERTY);
    try {
      System.clearProperty(ClasspathCommand.CLASSPATH_PROPERTY);
      Result r = run("classpath");
      assertEquals(0, r.exitCode(), r.err());
      assertEquals(System.getProperty("java.class.path"), r.out().strip());

      String fake = String.join(File.pathSeparator, "/a/twicing-runtime.jar", "/b/onnxruntime.jar");
      System.setProperty(ClasspathCommand.CLASSPATH_PROPERTY, fake);
      r = run("classpath");
      assertEquals(fake, r.out().strip());
      r = run("classpath", "--lines");
      assertEquals(List.of("/a/twicing-runtime.jar", "/b/onnxruntime.jar"), r.out().strip().lines().toList());
    } finally {
      if (old == null) {
        System.clearProperty(ClasspathCommand.CLASSPATH_PROPERTY);
      } else {
        System.setProperty(ClasspathCommand.CLASSPATH_PROPERTY, old);
      }
    }
  }

  @Test
  void classpathOfTheTestJvmHoldsTheRuntimeModule() {
    // Under Surefire the class path is the Maven-resolved one, like the launcher's: it must reach the runtime.
    String cp = ClasspathCommand.classpath();
    assertTrue(cp.contains("runtime"), cp);
    assertTrue(cp.contains("onnxruntime"), cp);
  }

  private static void assertOneLineError(String err, String file) {
    assertTrue(err.startsWith("twicing: error: "), err);
    assertTrue(err.contains(file), "error does not name " + file + ": " + err);
    assertEquals(1, err.strip().lines().count(), "expected one line, no stack trace: " + err);
  }

  /** Exit code and merged output of a child process. */
  record ProcResult(int exitCode, String output) { }

  private static ProcResult exec(List<String> command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return new ProcResult(-1, "timed out: " + output);
    }
    return new ProcResult(p.exitValue(), output);
  }
}
