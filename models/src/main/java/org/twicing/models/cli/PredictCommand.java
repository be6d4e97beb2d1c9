package org.twicing.models.cli;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.training.ImageInput;
import org.twicing.models.training.TextGenerator;
import org.twicing.models.training.TrainedRun;
import org.twicing.models.training.TrainingData;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code twicing predict --run RUN IMAGE.png} or {@code --prompt TEXT}: top-5 classes, or generated text. */
@Command(
    name = "predict",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    sortOptions = false,
    description = {"Classify an image, or generate text, with a trained run.", "",
        "Image runs: prints the top-5 classes with probabilities for IMAGE (a PNG, converted to 28x28 grey and "
            + "normalised like the training data).",
        "Language-model runs: continues --prompt by --tokens bytes, sampled with --temperature and --top-k."})
public final class PredictCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--run", paramLabel = "RUN", required = true, description = "The run directory (or a checkpoint "
      + "or model file).")
  Path run;

  @Parameters(index = "0", arity = "0..1", paramLabel = "IMAGE.png", description = "The image to classify.")
  Path image;

  @Option(names = "--prompt", paramLabel = "TEXT", description = "Text to continue (language models).")
  String prompt;

  @Option(names = "--tokens", paramLabel = "N", defaultValue = "200", description = "Bytes to generate (default "
      + "200).")
  int tokens;

  @Option(names = "--temperature", paramLabel = "T", defaultValue = "0.8", description = "Sampling temperature "
      + "(default 0.8; 0: greedy).")
  double temperature;

  @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "Sample among the K most likely "
      + "bytes (default 0: all).")
  int topK;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Sampling seed (default 0).")
  long seed;

  @Option(names = "--invert", paramLabel = "auto|on|off", defaultValue = "auto", description = "Invert the grey "
      + "levels (Fashion-MNIST shows light objects on black): auto (default) inverts images whose border is light.")
  String invert;

  @Option(names = "--provider", paramLabel = "cpu|cuda", defaultValue = "cpu", description = "Execution provider.")
  String provider;

  @Override
  public Integer call() {
    PrintWriter w = spec.commandLine().getOut();
    try (TrainedRun r = TrainedRun.open(run, SessionOptionsSpec.builder().provider(provider).build())) {
      if (r.model() instanceof VisionTransformer v) {
        if (image == null) {
          throw new CliException("run " + run + " holds an image classifier (" + r.settings().preset() + "): give "
              + "an IMAGE.png to classify", null, TwicingCli.EXIT_USAGE);
        }
        classify(w, r, v);
      } else {
        if (prompt == null) {
          throw new CliException("run " + run + " holds a language model (" + r.settings().preset() + "): give "
              + "--prompt TEXT", null, TwicingCli.EXIT_USAGE);
        }
        byte[] out = TextGenerator.generate(r.runner(), TrainingData.context(r.model()),
            prompt.getBytes(StandardCharsets.UTF_8), tokens, temperature, topK, seed);
        w.println(prompt + new String(out, StandardCharsets.UTF_8));
      }
      w.flush();
      return 0;
    } catch (CliException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new CliException(CliException.describe(e), e);
    }
  }

  private void classify(PrintWriter w, TrainedRun r, VisionTransformer v) throws IOException {
    int side = Math.toIntExact(v.cfg().imageSize());
    ImageInput.Invert mode = switch (invert.toLowerCase(Locale.ROOT)) {
      case "auto" -> ImageInput.Invert.AUTO;
      case "on" -> ImageInput.Invert.ON;
      case "off" -> ImageInput.Invert.OFF;
      default -> throw new CliException("--invert must be auto, on or off, got '" + invert + "'", null,
          TwicingCli.EXIT_USAGE);
    };
    ImageInput.Loaded loaded = ImageInput.load(image, side, FashionMnist.MEAN, FashionMnist.STD, mode);
    float[] pixels = loaded.pixels();
    float[] logits;
    try (OnnxTensor in = Tensors.floats(pixels, 1, 1, side, side)) {
      logits = r.runner().logits(in);
    }
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] p = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < p.length; i++) {
      p[i] = Math.exp(logits[i] - max);
      sum += p[i];
    }
    final double total = sum;
    Integer[] order = new Integer[p.length];
    Arrays.setAll(order, i -> i);
    Arrays.sort(order, Comparator.comparingDouble(i -> -p[i]));
    w.println("top-5 for " + image + (loaded.inverted() ? " (inverted: light background)" : "") + " ("
        + r.settings().preset() + ", step " + r.step() + "):");
    for (int k = 0; k < Math.min(5, order.length); k++) {
      int c = order[k];
      String name = p.length == FashionMnist.NUM_CLASSES ? FashionMnist.className(c) : "class " + c;
      w.printf(Locale.ROOT, "  %d. %-12s %.4f%n", k + 1, name, p[c] / total);
    }
  }
}
