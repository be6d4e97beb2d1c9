package org.twicing.models.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.train.Checkpoint;
import picocli.CommandLine.Option;

/** The model-selection options every model command shares: preset, attention overrides, seed, weights. */
public final class ModelOptions {
  @Option(names = "--model", defaultValue = "vit-fmnist", paramLabel = "PRESET",
      description = "Model preset: vit-tiny, vit-fmnist, lm-tiny, lm-paper (default: ${DEFAULT-VALUE}).")
  String model;

  @Option(names = "--attention", paramLabel = "KIND",
      description = "softmax (every layer), or twicing, twicing-learned or twicingK (higher order) in the twicing layers."
          + " With --onnx: softmax keeps the model, twicing rewrites each softmax attention A·V into A·(2V − A·V).")
  String attention;

  @Option(names = "--twicing-layers", paramLabel = "SPEC",
      description = "Which layers twice: all, none, last:K or 0-based indices i,j,... (default: the paper's).")
  String twicingLayers;

  @Option(names = "--vocab", paramLabel = "N", description = "Vocabulary size of a language model.")
  Long vocab;

  @Option(names = "--dropout", paramLabel = "P", description = "Dropout rate (default: the preset's).")
  Double dropout;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "N",
      description = "Seed of the weight initialisation (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--weights", paramLabel = "FILE.safetensors",
      description = "Load parameters (timm/nanoGPT names) from a safetensors file, or a training checkpoint (its "
          + "optimizer state is ignored), instead of initialising them.")
  Path weights;

  /** The preset options these flags describe. */
  public PresetOptions presetOptions() {
    PresetOptions o = PresetOptions.defaults();
    if (attention != null) {
      o = o.withAttention(attention);
    }
    if (twicingLayers != null) {
      o = o.withTwicingLayers(twicingLayers);
    }
    if (vocab != null) {
      o = o.withVocab(vocab);
    }
    if (dropout != null) {
      o = o.withDropout(dropout);
    }
    return o;
  }

  /** The model these flags select; configuration errors become one-line CLI errors. */
  public TaskModel build() {
    try {
      return Zoo.build(model, presetOptions());
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage(), e, TwicingCli.EXIT_USAGE);
    }
  }

  /** Weights from {@code --weights}, or freshly initialised from {@code --seed}. */
  public StateDict weights(TaskModel m) {
    if (weights == null) {
      return StateDict.initialize(m, seed);
    }
    try {
      boolean checkpoint;
      try (var r = Safetensors.open(weights)) {
        checkpoint = Checkpoint.FORMAT.equals(r.metadata().get(Checkpoint.KEY_FORMAT));
      }
      if (checkpoint) {
        // A training checkpoint holds the parameters plus optimizer state; the state is not part of a model.
        return Checkpoint.read(weights).parameters(m);
      }
      return StateDict.load(m, Safetensors.read(weights).tensors(), weights.toString());
    } catch (IOException | RuntimeException e) {
      String msg = CliException.describe(e);
      throw new CliException(msg.contains(weights.toString()) ? msg : weights + ": " + msg, e);
    }
  }
}
