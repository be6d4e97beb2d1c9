package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.importer.ForeignModel;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.training.ForeignModelSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code twicing emit}: writes a preset's (or an imported model's) model.onnx, grads.onnx and train_step.onnx. */
@Command(
    name = "emit",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    description = {"Compile a model preset, or an ONNX model exported by another tool (--onnx), to ONNX: model.onnx, "
        + "grads.onnx, train_step.onnx (and decode.onnx).", "",
        "model.onnx maps the input (pixels or tokens) to logits and carries the training step in its ONNX "
        + "training_info; grads.onnx gives the loss and every gradient; train_step.onnx is one optimizer step; "
        + "language models also get decode.onnx, incremental decoding with exact twicing caches. "
        + "The README documents each file's inputs and outputs."})
public final class EmitCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Mixin
  ModelOptions modelOptions;

  @Mixin
  TrainingOptions trainingOptions;

  @Mixin
  ForeignModelOptions foreign;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to write the files to.")
  Path out;

  @Option(names = "--keep-fused-ops", description = "Write LayerNormalization and OneHot as the ONNX ops instead of "
      + "the primitive ops that ONNX Runtime 1.29 runs faster on CPU (for TensorRT in fp16).")
  boolean keepFusedOps;

  @Option(names = "--opset", defaultValue = "17", paramLabel = "N", description = "ONNX opset (>= 17).")
  int opset;

  @Option(names = "--inference-only", description = "Write only model.onnx, without training graphs.")
  boolean inferenceOnly;

  @Option(names = "--external-data-threshold", paramLabel = "BYTES",
      description = "Move model.onnx initializers of at least this size to model.onnx.data.")
  Long externalThreshold;

  /** Builds the preset and writes its artifacts. */
  @Override
  public Integer call() {
    TaskModel model = model();
    StateDict weights = modelOptions.weights(model);
    EmitOptions options;
    try {
      options = EmitOptions.builder().opset(opset).keepFusedOps(keepFusedOps).build();
    } catch (IllegalArgumentException e) {
      throw new CliException("--opset: " + e.getMessage(), e, TwicingCli.EXIT_USAGE);
    }
    long threshold = externalThreshold == null ? Long.MAX_VALUE : externalThreshold;
    PrintWriter pw = spec.commandLine().getOut();
    try {
      if (inferenceOnly) {
        ModelWriter.write(ModelArtifacts.inferenceModel(model, weights, null, options),
            out.resolve(ModelArtifacts.MODEL), threshold);
      } else {
        ModelArtifacts.writeAll(model, weights, trainingOptions.spec(modelOptions.seed), out, options, threshold);
      }
      if (model instanceof ForeignModel f) {
        pw.printf("%s: %,d trainable parameters in %d initializers (%d frozen), logits '%s' %s%n", model.name(),
            model.parameterCount(), model.parameters().size(), f.frozen().size(), f.logitsOutput(),
            f.graph().outputs().get(f.logitsOutput()).type());
        if (f.config().containsKey(ForeignModelSpec.ATTENTION_KEY)) {
          pw.println(f.config().get(ForeignModelSpec.ATTENTION_KEY));
        }
      } else {
        pw.printf("%s: %,d parameters, attention %s%n", model.name(), model.parameterCount(),
            model.attentionKinds().stream().map(k -> k.name()).toList());
      }
      for (String f : inferenceOnly ? new String[] {ModelArtifacts.MODEL}
          : new String[] {ModelArtifacts.MODEL, ModelArtifacts.GRADS, ModelArtifacts.TRAIN_STEP,
              ModelArtifacts.DECODE}) {
        if (!Files.exists(out.resolve(f))) {
          continue;
        }
        ModelSummary s = ModelSummary.read(out.resolve(f));
        pw.printf("wrote %s (%d nodes, inputs %s, outputs %s)%n", out.resolve(f),
            s.opHistogram().values().stream().mapToInt(Integer::intValue).sum(), s.inputs().size(),
            s.outputs().size());
      }
    } catch (IOException e) {
      throw new CliException(out + ": " + CliException.describe(e), e);
    }
    pw.flush();
    return 0;
  }

  /** The preset, or the imported model of {@code --onnx} (preset options do not apply to it). */
  private TaskModel model() {
    ForeignModelSpec f = foreign.spec();
    if (f == null) {
      return modelOptions.build();
    }
    for (String presetOnly : new String[] {"--model", "--twicing-layers", "--vocab", "--dropout"}) {
      if (spec.commandLine().getParseResult().hasMatchedOption(presetOnly)) {
        throw new CliException(presetOnly + " applies to presets, not to --onnx models", null,
            TwicingCli.EXIT_USAGE);
      }
    }
    try {
      f = f.withAttention(modelOptions.attention);
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage(), e, TwicingCli.EXIT_USAGE);
    }
    try {
      return f.load();
    } catch (RuntimeException e) {
      throw new CliException(CliException.describe(e), e);
    }
  }
}
