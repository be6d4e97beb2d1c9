package org.twicing.models.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --input DIR|FILE --output FILE.parquet}: batch prediction over many images (with {@code --spark}). */
public final class BatchPredictOptions {
  @Option(names = "--input", paramLabel = "DIR|FILE", description = "With --spark: a PNG, a directory of PNGs, or a "
      + "Parquet data set with an 'image' column of normalised pixels.")
  Path input;

  @Option(names = "--output", paramLabel = "FILE.parquet", description = "With --spark: where to write the scored "
      + "rows (Parquet: the input's columns, logits, prediction).")
  Path output;

  /** Checks the pair against {@code on}: both or neither, and only with a distributed master. */
  public boolean active(DistributedOptions on) {
    if ((input == null) != (output == null)) {
      throw new CliException("give both --input and --output", null, TwicingCli.EXIT_USAGE);
    }
    if (input != null && !on.active()) {
      throw new CliException("--input/--output need --spark MASTER (without it, predict classifies one IMAGE.png)",
          null, TwicingCli.EXIT_USAGE);
    }
    if (on.active() && input == null) {
      throw new CliException("predict --spark needs --input DIR|FILE and --output FILE.parquet", null,
          TwicingCli.EXIT_USAGE);
    }
    return input != null;
  }

  /** The input images or data set. */
  public Path input() {
    return input;
  }

  /** The Parquet output. */
  public Path output() {
    return output;
  }
}
