package org.twicing.models.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.twicing.codegen.inspect.ModelSummary;
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
    spec.commandLine().getOut().flush();
    return 0;
  }
}
