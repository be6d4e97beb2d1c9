package org.twicing.models.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos;
import org.twicing.codegen.tensorrt.TensorRtCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code twicing inspect FILE.onnx}: summarises an ONNX model file from any producer. */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    // The first line is the summary in "twicing --help"; the rest shows only in "twicing inspect --help".
    description = {"Summarise an ONNX model file from any producer.", "",
        "Prints the producer, IR version, opsets, inputs and outputs with element types and dimensions, "
        + "parameter count and bytes, training_info, an op histogram and metadata. External data is counted "
        + "from its recorded lengths, not read."})
public final class InspectCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE.onnx", description = "The ONNX model file to inspect.")
  Path file;

  @picocli.CommandLine.Option(names = "--tensorrt", description = "Also check the model is fit for TensorRT's ONNX "
      + "parser and print an optimization profile as trtexec flags; exit 1 when it is not fit.")
  boolean tensorrt;

  @picocli.CommandLine.Option(names = "--range", paramLabel = "DIM=MIN,OPT,MAX", description = "Profile range of a "
      + "symbolic dimension (defaults: batch=1,8,64; T and S up to the model's context; past=0,C/2,C-1).")
  Map<String, String> ranges = new LinkedHashMap<>();

  /**
   * The {@code context} of the model's {@code twicing.config} JSON, or 128 when the model has no such entry (it was
   * not written by twicing, or its model has no context); a config that is not a JSON object is an error.
   */
  private long configuredContext(String configJson) {
    if (configJson == null) {
      return 128;
    }
    JsonObject config;
    try {
      config = JsonParser.parseString(configJson).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new CliException(file + ": metadata '" + MetadataKeys.CONFIG + "' is not a JSON object: " + configJson,
          e);
    }
    JsonElement context = config.get("context");
    if (context == null || !context.isJsonPrimitive() || !context.getAsJsonPrimitive().isNumber()) {
      return 128;
    }
    return context.getAsLong();
  }

  /** Prints TensorRT findings and the profile; 1 when the model is not fit. */
  private int tensorRt(ModelSummary summary) {
    var out = spec.commandLine().getOut();
    OnnxProtos.ModelProto model;
    try {
      model = ModelSummary.readModel(file);
    } catch (IOException e) {
      throw new CliException(CliException.describe(e), e);
    }
    var findings = TensorRtCheck.check(model);
    long context = configuredContext(summary.metadata().get(MetadataKeys.CONFIG));
    Map<String, long[]> r = new LinkedHashMap<>();
    r.put("batch", new long[] {1, 8, 64});
    r.put("T", new long[] {1, context, context});
    r.put("S", new long[] {1, 1, context});
    r.put("past", new long[] {0, context / 2, context - 1});
    ranges.forEach((k, v) -> {
      String[] p = v.split(",");
      if (p.length != 3) {
        throw new CliException("--range " + k + "=" + v + ": expected MIN,OPT,MAX", null, TwicingCli.EXIT_USAGE);
      }
      try {
        r.put(k, new long[] {Long.parseLong(p[0].trim()), Long.parseLong(p[1].trim()), Long.parseLong(p[2].trim())});
      } catch (NumberFormatException e) {
        throw new CliException("--range " + k + "=" + v + ": expected integers MIN,OPT,MAX", e, TwicingCli.EXIT_USAGE);
      }
    });
    out.println("tensorrt:");
    if (findings.isEmpty()) {
      out.println("  fit for TensorRT's ONNX parser (default domain, opset " + summary.opsets().getOrDefault("ai.onnx", 0L)
          + ", constant axes and weights, no training-only ops)");
    } else {
      findings.forEach(f -> out.println("  NOT FIT: " + f));
    }
    try {
      out.println("  trtexec --onnx=" + file + " " + TensorRtCheck.trtexecFlags(
          TensorRtCheck.profile(model, r)));
    } catch (IllegalArgumentException e) {
      throw new CliException(file + ": " + e.getMessage() + " (use --range NAME=MIN,OPT,MAX)", e,
          TwicingCli.EXIT_USAGE);
    }
    return findings.isEmpty() ? 0 : TwicingCli.EXIT_FAILURE;
  }

  /** Prints the summary of {@link #file}; a missing or unreadable file becomes a {@link CliException}. */
  @Override
  public Integer call() {
    ModelSummary summary;
    try {
      summary = ModelSummary.read(file);
    } catch (IOException | RuntimeException e) {
      // ModelSummary names the file in its own errors, but JDK errors such as "Is a directory" do not.
      String message = CliException.describe(e);
      if (!message.contains(file.toString())) {
        message = file + ": " + message;
      }
      throw new CliException(message, e);
    }
    spec.commandLine().getOut().print(summary.format());
    int code = tensorrt ? tensorRt(summary) : 0;
    spec.commandLine().getOut().flush();
    return code;
  }
}
