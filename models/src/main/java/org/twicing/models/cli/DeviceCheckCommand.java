package org.twicing.models.cli;

import ai.onnxruntime.OrtEnvironment;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.dsl.io.AtomicFile;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ExecutionProvider;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.SessionOptionsSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code twicing device-check}: whether the GPU execution providers load in this build, and whether each preset's
 * logits on them equal the CPU provider's. A provider that does not load is a finding (reported with ONNX
 * Runtime's own message, which names the missing library), not an error: the command exits 0 unless asked to fail.
 */
@Command(
    name = "device-check",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    sortOptions = false,
    description = {"Check the GPU execution providers: does each load, and do the presets' logits on it equal the "
        + "CPU provider's? Writes a markdown report. Used by scripts/device-check.sh on a machine with a GPU."})
public final class DeviceCheckCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--providers", paramLabel = "P", split = ",", defaultValue = "cuda,tensorrt",
      description = "Providers to check against cpu (default cuda,tensorrt).")
  List<String> providers;

  @Option(names = "--models", paramLabel = "PRESET", split = ",", defaultValue = "vit-tiny,lm-tiny",
      description = "Presets whose logits are compared (default vit-tiny,lm-tiny).")
  List<String> models;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "2", description = "Batch of the comparison (default 2).")
  int batch;

  @Option(names = "--tolerance", paramLabel = "REL", defaultValue = "1e-3", description = "Largest relative logit "
      + "difference counted as agreement (default 1e-3: GPU kernels may use TF32).")
  double tolerance;

  @Option(names = "--report", paramLabel = "FILE.md", description = "Also write the report to this file.")
  Path report;

  @Option(names = "--require", description = "Exit 1 if a provider does not load or disagrees with the CPU.")
  boolean require;

  /** One provider's outcome. */
  record Finding(String provider, boolean loads, String message, List<String> comparisons, boolean agrees) { }

  @Override
  public Integer call() {
    PrintWriter w = spec.commandLine().getOut();
    if (batch < 1 || batch > 1024) {
      throw new CliException("--batch must be between 1 and 1024, got " + batch, null, TwicingCli.EXIT_USAGE);
    }
    if (!(tolerance > 0)) {
      throw new CliException("--tolerance must be positive, got " + tolerance, null, TwicingCli.EXIT_USAGE);
    }
    List<ExecutionProvider> eps = new ArrayList<>();
    for (String p : providers) {
      try {
        eps.add(ExecutionProvider.fromName(p));
      } catch (IllegalArgumentException e) {
        throw new CliException("--providers: " + e.getMessage(), null, TwicingCli.EXIT_USAGE);
      }
    }
    for (String m : models) {
      if (!Zoo.PRESETS.contains(m)) {
        throw new CliException("--models: unknown preset '" + m + "'; presets: " + Zoo.PRESETS, null,
            TwicingCli.EXIT_USAGE);
      }
    }
    StringBuilder md = new StringBuilder("# Device check\n\n");
    md.append("ONNX Runtime providers compiled into this build: ").append(OrtEnvironment
        .getAvailableProviders()).append("\n\n| provider | loads | preset | max relative logit difference vs cpu |"
        + " agrees |\n|---|---|---|---|---|\n");
    boolean allGood = true;
    StringBuilder notes = new StringBuilder();
    for (ExecutionProvider ep : eps) {
      Finding f = check(ep);
      allGood &= f.loads() && f.agrees();
      for (String c : f.comparisons()) {
        md.append(c).append('\n');
      }
      if (!f.loads()) {
        md.append("| ").append(f.provider()).append(" | no | – | – | – |\n");
        notes.append("\n").append(f.provider()).append(" does not load: ").append(f.message().replace('\n', ' '))
            .append('\n');
      }
    }
    md.append(notes);
    w.print(md);
    w.flush();
    if (report != null) {
      try {
        AtomicFile.write(report, md.toString().getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new CliException(report + ": cannot write the report (" + e.getMessage() + ")", e);
      }
    }
    return require && !allGood ? TwicingCli.EXIT_FAILURE : 0;
  }

  private Finding check(ExecutionProvider ep) {
    List<String> rows = new ArrayList<>();
    boolean agrees = true;
    for (String preset : models) {
      TaskModel m = Zoo.build(preset, PresetOptions.defaults());
      byte[] model = OnnxEmitter.emit(InferenceGraph.build(m, StateDict.initialize(m, 0)), EmitOptions.defaults())
          .toByteArray();
      Tensor input = input(m);
      Map<String, Tensor> cpu;
      try (ModelSession s = ModelSession.open(model, SessionOptionsSpec.defaults())) {
        cpu = s.runHost(Map.of(m.inputName(), input));
      }
      Map<String, Tensor> dev;
      try (ModelSession s = ModelSession.open(model, SessionOptionsSpec.forProvider(ep))) {
        dev = s.runHost(Map.of(m.inputName(), input));
      } catch (RuntimeException e) {
        return new Finding(ep.toString(), false, e.getMessage(), rows, false);
      }
      double rel = relative(dev.get("logits").toDoubles(), cpu.get("logits").toDoubles());
      boolean ok = rel <= tolerance;
      agrees &= ok;
      rows.add(String.format(Locale.ROOT, "| %s | yes | %s | %.2e | %s |", ep, preset, rel, ok ? "yes" : "NO"));
    }
    return new Finding(ep.toString(), true, "", rows, agrees);
  }

  /** A random input of the preset's type with batch {@link #batch} (tokens below the vocabulary). */
  private Tensor input(TaskModel m) {
    List<Dim> dims = m.inputType().shape().dims();
    long[] shape = new long[dims.size()];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = dims.get(i).isFixed() ? dims.get(i).size() : i == 0 ? batch
          : Long.parseLong(m.config().getOrDefault("context", "16"));
    }
    Random rng = new Random(0);
    double[] d = new double[(int) Tensor.numel(shape)];
    boolean tokens = m.inputType().dtype() == DType.INT64;
    for (int i = 0; i < d.length; i++) {
      d[i] = tokens ? rng.nextInt((int) m.classes()) : rng.nextGaussian();
    }
    return new Tensor(m.inputType().dtype(), shape, d);
  }

  private static double relative(double[] a, double[] ref) {
    double diff = 0;
    double scale = 0;
    for (int i = 0; i < ref.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    return diff / scale;
  }
}
