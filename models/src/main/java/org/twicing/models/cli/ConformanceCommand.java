package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import org.twicing.dsl.io.AtomicFile;
import org.twicing.models.conformance.CaseResult;
import org.twicing.models.conformance.ConformanceCase;
import org.twicing.models.conformance.ConformanceReport;
import org.twicing.models.conformance.ConformanceRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code twicing conformance --cases DIR}: runs ONNX's backend node test cases through import, eval and ORT. */
@Command(
    name = "conformance",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    description = {"Check import, float64 evaluation and re-emission against ONNX's own node test cases.", "",
        "For every case folder under DIR (model.onnx plus test_data_set_N/input_K.pb, output_K.pb, as "
        + "tests/src/test/python/generate_onnx_node_cases.py writes them), imports the model, evaluates it "
        + "with the float64 reference evaluator, re-emits it and runs it in ONNX Runtime, and compares both "
        + "with the expected outputs at ONNX's tolerances. Prints one line per failing case and finally "
        + "'conformance: P passed, F failed, U unsupported of N cases'; exits 1 when any case failed."})
public final class ConformanceCommand implements Callable<Integer> {
  /** The name of the generator's log in a case folder, embedded in the report when present. */
  static final String GENERATION_LOG = "generation.txt";

  @Spec
  CommandSpec spec;

  @Option(names = "--cases", required = true, paramLabel = "DIR",
      description = "Folder holding the case folders (each with model.onnx and test_data_set_N/).")
  Path cases;

  @Option(names = "--ops", split = ",", paramLabel = "OP",
      description = "Only cases testing these ONNX op types (e.g. --ops Add,MatMul).")
  List<String> ops = new ArrayList<>();

  @Option(names = "--verbose", description = "Also print each unsupported case with its reason, and passes.")
  boolean verbose;

  @Option(names = "--report", paramLabel = "FILE.md",
      description = "Also write the Markdown report (per-op counts, every failed and unsupported case).")
  Path report;

  /** Runs the cases and prints the results; 1 when any case failed. */
  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    List<ConformanceCase> found;
    try {
      found = ConformanceCase.discover(cases);
    } catch (IOException e) {
      throw new CliException("--cases " + cases + ": " + CliException.describe(e), e);
    }
    if (found.isEmpty()) {
      throw new CliException("--cases " + cases + ": no case folders (folders with a model.onnx) found; generate "
          + "them with /usr/bin/python3 tests/src/test/python/generate_onnx_node_cases.py --out " + cases);
    }
    Set<String> wanted = new LinkedHashSet<>(ops);
    Predicate<String> selected = wanted.isEmpty() ? op -> true : wanted::contains;
    List<CaseResult> results = ConformanceRunner.onCpu().runAll(found, selected, r -> {
      if (verbose || r.status() == CaseResult.Status.FAILED) {
        out.println(r.line());
        out.flush();
      }
    });
    if (results.isEmpty()) {
      throw new CliException("--ops " + String.join(",", ops) + ": no case under " + cases + " tests these ops");
    }
    ConformanceReport rep = new ConformanceReport(results);
    if (report != null) {
      writeReport(rep);
    }
    out.println(rep.summaryLine());
    out.flush();
    return rep.count(CaseResult.Status.FAILED) > 0 ? TwicingCli.EXIT_FAILURE : 0;
  }

  private void writeReport(ConformanceReport rep) {
    List<String> commands = new ArrayList<>();
    String generation = "";
    Path log = cases.resolve(GENERATION_LOG);
    try {
      if (Files.isRegularFile(log)) {
        generation = Files.readString(log, StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      throw new CliException(log + ": " + CliException.describe(e), e);
    }
    // The generator records its own command line; without one, show the plain generation command.
    commands.add(generation.lines().filter(l -> l.startsWith("command: ")).map(l -> l.substring(9)).findFirst()
        .orElse("/usr/bin/python3 tests/src/test/python/generate_onnx_node_cases.py --out " + cases));
    StringBuilder cmd = new StringBuilder("./twicing conformance --cases ").append(cases);
    if (!ops.isEmpty()) {
      cmd.append(" --ops ").append(String.join(",", ops));
    }
    cmd.append(" --report ").append(report);
    commands.add(cmd.toString());
    try {
      byte[] md = rep.markdown(commands, generation).getBytes(StandardCharsets.UTF_8);
      AtomicFile.write(report, ch -> ch.write(ByteBuffer.wrap(md)));
    } catch (IOException e) {
      throw new CliException("--report " + report + ": " + CliException.describe(e), e);
    }
  }
}
