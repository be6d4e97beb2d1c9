package org.twicing.tests.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;

/**
 * Exit codes as a shell sees them: the real {@code twicing} launcher script run as a process (bash, then the JVM
 * it execs), not {@link TwicingCli#run} in-process. 0 on success, {@value TwicingCli#EXIT_FAILURE} for a command
 * that ran and failed, {@value TwicingCli#EXIT_USAGE} for a command line that does not parse.
 *
 * <p>The launcher finds its build relative to its own location, so the script is copied into a temporary root
 * whose {@code models/target/classpath.txt} is this test JVM's class path (the reactor's modules and their
 * dependencies); {@code TWICING_NO_BUILD=1} keeps it from ever running Maven.
 */
class LauncherExitCodeTest {
  /** A JVM start plus a tiny command; only a hung process comes near this. */
  static final long LIMIT_S = 120;

  @TempDir
  static Path root;

  @BeforeAll
  static void layOutARoot() throws IOException {
    Path script = Path.of("..", "twicing").toAbsolutePath().normalize();
    assertTrue(Files.isRegularFile(script), script + " does not exist (the tests run in the tests module)");
    Path launcher = root.resolve("twicing");
    Files.copy(script, launcher);
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    // The launcher puts models/target/classes first on its class path; the reactor's models classes (or jar)
    // come through classpath.txt, which is this JVM's class path. Surefire's booter jar hides that class path in
    // its manifest and publishes it in surefire.test.class.path.
    Path target = Files.createDirectories(root.resolve("models/target/classes")).getParent();
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    String entries = Arrays.stream(cp.split(File.pathSeparator))
        .filter(e -> !e.isBlank() && !e.endsWith("test-classes"))
        .collect(Collectors.joining(File.pathSeparator));
    assertTrue(Arrays.stream(entries.split(File.pathSeparator)).anyMatch(e -> e.contains("models")),
        "no models classes on the class path: " + entries);
    Files.writeString(target.resolve("classpath.txt"), entries);
  }

  /** What a process printed and returned. */
  record Run(int exitCode, String out, String err) { }

  static Run launch(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("bash", root.resolve("twicing").toString()));
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile(root, "out", ".txt");
    Path err = Files.createTempFile(root, "err", ".txt");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().put("TWICING_NO_BUILD", "1");
    pb.environment().put("TWICING_JAVA_OPTS", "-Xmx512m");
    Process p = pb.start();
    if (!p.waitFor(LIMIT_S, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      throw new AssertionError("twicing " + String.join(" ", args) + " did not finish within " + LIMIT_S + " s");
    }
    return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  @Test
  void successExitsZero() throws Exception {
    Run r = launch("--version");
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.out().startsWith("twicing "), r.out());
  }

  @Test
  void unknownOptionExitsTwoWithAHelpHint() throws Exception {
    Run r = launch("inspect", "--no-such-option", "model.onnx");
    assertEquals(TwicingCli.EXIT_USAGE, r.exitCode(), r.err());
    assertTrue(r.err().startsWith("twicing: error: "), r.err());
    assertTrue(r.err().contains("--no-such-option"), r.err());
    assertTrue(r.err().contains("Try 'twicing inspect --help'"), r.err());
  }

  @Test
  void missingArgumentAndUnknownCommandExitTwo() throws Exception {
    Run missing = launch("inspect");
    assertEquals(TwicingCli.EXIT_USAGE, missing.exitCode(), missing.err());
    assertTrue(missing.err().contains("twicing: error: Missing required parameter"), missing.err());
    Run unknown = launch("trian");
    assertEquals(TwicingCli.EXIT_USAGE, unknown.exitCode(), unknown.err());
    assertTrue(unknown.err().contains("train"), "suggests the command meant: " + unknown.err());
  }

  @Test
  void failingCommandExitsOneNamingTheFile() throws Exception {
    Path missing = root.resolve("no-such-model.onnx");
    Run r = launch("inspect", missing.toString());
    assertEquals(TwicingCli.EXIT_FAILURE, r.exitCode(), r.err());
    assertTrue(r.err().startsWith("twicing: error: ") && r.err().contains(missing.toString()), r.err());
    assertTrue(!r.err().contains("\tat "), "no stack trace without --verbose: " + r.err());
  }

  @Test
  void modelUnfitForTensorRtExitsOne() throws Exception {
    TaskModel m = Zoo.build("lm-tiny", PresetOptions.defaults().withDropout(0.1));
    StateDict w = StateDict.initialize(m, 0);
    Path fit = root.resolve("model.onnx");
    ModelWriter.write(ModelArtifacts.inferenceModel(m, w, null, EmitOptions.defaults()), fit);
    Path unfit = root.resolve("grads.onnx");
    ModelWriter.write(OnnxEmitter.emit(TrainingGraphs.grads(m, w, TrainingSpec.defaults()),
        EmitOptions.builder().parametersAsInputs(true).build()), unfit);
    Run ok = launch("inspect", "--tensorrt", fit.toString());
    assertEquals(0, ok.exitCode(), ok.out() + ok.err());
    assertTrue(ok.out().contains("fit for TensorRT"), ok.out());
    Run bad = launch("inspect", "--tensorrt", unfit.toString());
    assertEquals(TwicingCli.EXIT_FAILURE, bad.exitCode(), bad.out() + bad.err());
    assertTrue(bad.out().contains("NOT FIT") && bad.out().contains("(Dropout)"), bad.out());
  }

  @Test
  void launcherWithoutABuildExitsOne(@TempDir Path empty) throws Exception {
    Path launcher = empty.resolve("twicing");
    Files.copy(root.resolve("twicing"), launcher);
    ProcessBuilder pb = new ProcessBuilder("bash", launcher.toString(), "--version").redirectErrorStream(true);
    pb.environment().put("TWICING_NO_BUILD", "1");
    Process p = pb.start();
    assertTrue(p.waitFor(LIMIT_S, TimeUnit.SECONDS), "the launcher hung");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(1, p.exitValue(), out);
    assertTrue(out.contains("no build found"), out);
  }
}
