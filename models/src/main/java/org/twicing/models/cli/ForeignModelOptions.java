package org.twicing.models.cli;

import java.nio.file.Path;
import org.twicing.models.training.ForeignModelSpec;
import picocli.CommandLine.Option;

/** The options that name a model exported by another tool (an ONNX file) instead of a preset. */
public final class ForeignModelOptions {
  @Option(names = "--onnx", paramLabel = "FILE.onnx", description = "Train a model exported by another tool "
      + "(e.g. torch.onnx.export, opsets 13 to 21) instead of a preset: its one input takes the data, every float "
      + "initializer is trained unless --frozen matches it.")
  Path onnx;

  @Option(names = "--logits", paramLabel = "NAME", description = "With --onnx: the output trained as logits "
      + "(needed when the model has several float outputs).")
  String logits;

  @Option(names = "--frozen", paramLabel = "REGEX", description = "With --onnx: initializers whose name this "
      + "regular expression finds stay fixed (anchor with ^...$ for whole names).")
  String frozen;

  /** The ONNX model these flags name, or null when {@code --onnx} is absent (then --logits/--frozen are errors). */
  public ForeignModelSpec spec() {
    if (onnx == null) {
      if (logits != null || frozen != null) {
        throw new CliException((logits != null ? "--logits" : "--frozen") + " applies only with --onnx FILE",
            null, TwicingCli.EXIT_USAGE);
      }
      return null;
    }
    try {
      return new ForeignModelSpec(onnx, logits, frozen);
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage(), e, TwicingCli.EXIT_USAGE);
    }
  }
}
