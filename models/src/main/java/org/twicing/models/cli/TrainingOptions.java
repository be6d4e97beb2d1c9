package org.twicing.models.cli;

import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.models.training.OptimizerKind;
import picocli.CommandLine.Option;

/** The hyper-parameters fixed in training graphs when they are emitted. */
public final class TrainingOptions {
  @Option(names = "--optimizer", defaultValue = "adamw", paramLabel = "NAME",
      description = "adamw or sgd (default: ${DEFAULT-VALUE}).")
  String optimizer;

  @Option(names = "--weight-decay", defaultValue = "0.05", paramLabel = "W",
      description = "Weight decay (default: ${DEFAULT-VALUE}).")
  double weightDecay;

  @Option(names = "--beta1", defaultValue = "0.9", paramLabel = "B1", description = "AdamW beta1.")
  double beta1;

  @Option(names = "--beta2", defaultValue = "0.999", paramLabel = "B2", description = "AdamW beta2.")
  double beta2;

  @Option(names = "--eps", defaultValue = "1e-8", paramLabel = "E", description = "AdamW epsilon.")
  double eps;

  @Option(names = "--momentum", defaultValue = "0.9", paramLabel = "M", description = "SGD momentum.")
  double momentum;

  @Option(names = "--clip-norm", defaultValue = "0", paramLabel = "C",
      description = "Global gradient-norm clipping threshold (0 disables).")
  double clipNorm;

  @Option(names = "--label-smoothing", defaultValue = "0", paramLabel = "S", description = "Label smoothing.")
  double labelSmoothing;

  /** The training specification these flags describe. */
  public TrainingSpec spec(long dropoutSeed) {
    OptimizerKind kind;
    try {
      kind = OptimizerKind.parse(optimizer);
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage(), e, TwicingCli.EXIT_USAGE);
    }
    Optimizer opt = kind.create(beta1, beta2, eps, momentum, weightDecay);
    try {
      return new TrainingSpec(new CrossEntropy(labelSmoothing, -100), opt, clipNorm, dropoutSeed);
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage(), e, TwicingCli.EXIT_USAGE);
    }
  }
}
