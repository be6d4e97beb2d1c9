package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.dsl.nn.Gpt;
import org.twicing.models.training.RunSettings;
import org.twicing.models.training.TrainedRun;
import org.twicing.models.training.TrainingData;
import org.twicing.models.web.WebSite;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code twicing export-web}: writes a self-contained static site that runs a trained run in a web browser. */
@Command(
    name = "export-web",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    sortOptions = false,
    description = {"Write a self-contained static web site that runs a trained run in the browser with "
        + "onnxruntime-web (WebAssembly, bundled; nothing is fetched from the internet).", "",
        "Image runs: sample images, drawing and upload, the predicted class with probabilities, and a 'fine-tune "
        + "here' button running train_step.onnx in the page. Language-model runs: a prompt box generating bytes "
        + "through decode.onnx. Serve it with 'twicing serve-web DIR' (or any static server)."})
public final class ExportWebCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--run", paramLabel = "RUN", required = true, description = "The run directory.")
  Path run;

  @Option(names = "--out", paramLabel = "DIR", required = true, description = "The site directory to create "
      + "(must not exist, or be empty).")
  Path out;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "32", description = "Test images bundled with an "
      + "image site (default 32).")
  int samples;

  @Option(names = "--fine-tune-batch", paramLabel = "B", defaultValue = "16", description = "Images per in-page "
      + "training step, the first B samples (default 16).")
  int fineTuneBatch;

  @Option(names = "--fine-tune-lr", paramLabel = "LR", defaultValue = "1e-4", description = "Learning rate of the "
      + "in-page training steps (default 1e-4).")
  double fineTuneLr;

  @Option(names = "--prompt", paramLabel = "TEXT", defaultValue = "The ", description = "Initial prompt of a "
      + "language-model site.")
  String prompt;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Fashion-MNIST directory for the samples "
      + "(default: the run's).")
  Path dataDir;

  @Option(names = "--web-dist", paramLabel = "DIR", description = "The built page (default: web/dist of this "
      + "checkout).")
  Path webDist;

  @Override
  public Integer call() {
    PrintWriter w = spec.commandLine().getOut();
    if (samples < 1 || samples > 10_000) {
      throw new CliException("--samples must be between 1 and 10000, got " + samples, null, TwicingCli.EXIT_USAGE);
    }
    if (fineTuneBatch < 1 || fineTuneBatch > samples) {
      throw new CliException("--fine-tune-batch must be between 1 and --samples (" + samples + "), got "
          + fineTuneBatch, null, TwicingCli.EXIT_USAGE);
    }
    if (!(fineTuneLr > 0 && fineTuneLr < 1)) {
      throw new CliException("--fine-tune-lr must be in (0, 1), got " + fineTuneLr, null, TwicingCli.EXIT_USAGE);
    }
    Path page = webDist != null ? webDist : Path.of(System.getProperty("twicing.home", "."), "web", "dist");
    SessionOptionsSpec options = SessionOptionsSpec.builder().provider("cpu").build();
    try (TrainedRun r = TrainedRun.open(run, options)) {
      RunSettings s = r.settings();
      String name = run.toAbsolutePath().normalize().getFileName().toString();
      WebSite.Options o = new WebSite.Options(samples, fineTuneBatch, fineTuneLr, prompt);
      if (r.model() instanceof Gpt gpt) {
        WebSite.exportText(page, out, name, gpt, r.weights(), o);
      } else {
        Path modelFile = run.resolve(ModelArtifacts.MODEL);
        if (!Files.isRegularFile(modelFile)) {
          throw new CliException(run + ": has no " + modelFile.getFileName() + " (train writes it at the end)");
        }
        if (!r.source().getFileName().toString().equals(Checkpoint.FILE_NAME)) {
          throw new CliException(run + ": export-web needs " + Checkpoint.FILE_NAME + " for the training state");
        }
        Path dir = dataDir != null ? dataDir : s.dataDir() != null ? Path.of(s.dataDir()) : null;
        TrainingData td = TrainingData.load(TrainingData.FASHION_MNIST, dir);
        WebSite.exportImage(page, out, name, r.model(), r.weights(), s.spec(), modelFile, td.fashion().test(), o);
      }
      w.println("wrote " + out + " (" + (r.model() instanceof Gpt ? "language model" : "image classifier")
          + "); serve it with: twicing serve-web " + out);
      w.flush();
      return 0;
    } catch (CliException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new CliException(CliException.describe(e), e);
    }
  }
}
