package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.twicing.models.training.Evaluation;
import org.twicing.models.training.RunSettings;
import org.twicing.models.training.TrainedRun;
import org.twicing.models.training.TrainingData;
import org.twicing.runtime.SessionOptionsSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code twicing eval --run RUN}: measures a trained run on its (or other) data. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    sortOptions = false,
    description = {"Evaluate a trained run: test accuracy, or validation loss and perplexity.", "",
        "Loads RUN/checkpoint.safetensors (or RUN/model.onnx when there is no checkpoint), rebuilds the model from "
            + "the settings stored with it and evaluates it on the run's data, or on --data."})
public final class EvalCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @picocli.CommandLine.Mixin
  ProviderOptions runOn;

  @picocli.CommandLine.Mixin
  DistributedOptions distributed;

  @Option(names = "--run", paramLabel = "RUN", required = true, description = "The run directory (or a checkpoint "
      + "or model file).")
  Path run;

  @Option(names = "--data", paramLabel = "DATA", description = "fashion-mnist or text:PATH (default: the run's).")
  String data;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Directory of the Fashion-MNIST IDX files.")
  Path dataDir;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "256", description = "Evaluation batch size "
      + "(default 256 images or 32 text windows).")
  int batch;

  @Override
  public Integer call() {
    PrintWriter w = spec.commandLine().getOut();
    SessionOptionsSpec options = runOn.spec();
    try (TrainedRun r = TrainedRun.open(run, options)) {
      RunSettings s = r.settings();
      String dataSpec = data != null ? data : s.data();
      Path dir = dataDir != null ? dataDir : data == null && s.dataDir() != null ? Path.of(s.dataDir()) : null;
      TrainingData td = TrainingData.load(dataSpec, dir);
      Evaluation e = td.evaluation(r.model(), td.isImages() ? batch : Math.min(batch, 32));
      Map<String, Double> m;
      try (DistributedBackend.Cluster c = distributed.connect(w)) {
        m = c != null ? c.evaluate(run, td, batch) : e.evaluate(r.runner(), true);
      }
      w.println(e.summary(m));
      w.println("model: " + s.preset() + " from " + r.source() + " (step " + r.step() + "); data source: "
          + td.describe());
      w.flush();
      return 0;
    } catch (CliException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new CliException(CliException.describe(e), e);
    }
  }
}
