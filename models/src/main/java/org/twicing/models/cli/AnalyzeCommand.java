package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.models.analysis.Analysis;
import org.twicing.models.analysis.AnalysisReport;
import org.twicing.models.analysis.AnalysisSession;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.RunSettings;
import org.twicing.models.training.TrainedRun;
import org.twicing.models.training.TrainingData;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code twicing analyze --run RUN}: robustness (noise, FGSM, PGD) and oversmoothing of a trained ViT run. */
@Command(
    name = "analyze",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    sortOptions = false,
    description = {"Analyse a trained image (ViT) run on the first N Fashion-MNIST test images: clean accuracy, "
        + "accuracy under Gaussian noise and FGSM/PGD attacks (L-infinity, in normalised pixel space, no clipping "
        + "to the pixel range; with --pixel-space in [0, 1] pixel units, clipped), and with --oversmoothing the "
        + "mean off-diagonal cosine similarity of the token vectors output by each block.", "", "Needs "
        + "RUN/checkpoint.safetensors. Prints the results, then writes them to RUN/analysis.json (or --out)."})
public final class AnalyzeCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--run", paramLabel = "RUN", required = true, description = "The run directory.")
  Path run;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Directory of the Fashion-MNIST IDX files "
      + "(default: the run's).")
  Path dataDir;

  @Option(names = "--examples", paramLabel = "N", defaultValue = "1000", description = "Test images (default 1000).")
  int examples;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "100", description = "Images per pass (default 100).")
  int batch;

  @Option(names = "--noise", paramLabel = "STD", split = ",", description = "Gaussian noise standard deviations "
      + "(normalised pixel units), e.g. 0.1,0.2.")
  double[] noise = new double[0];

  @Option(names = "--attack", paramLabel = "fgsm|pgd", split = ",", description = "Attacks to run: fgsm, pgd or "
      + "fgsm,pgd.")
  List<String> attacks = List.of();

  @Option(names = "--epsilon", paramLabel = "EPS", split = ",", defaultValue = "0.03", description = "Attack radii "
      + "in normalised pixel units (default 0.03).")
  double[] epsilons;

  @Option(names = "--pgd-steps", paramLabel = "K", defaultValue = "10", description = "PGD steps (default 10).")
  int pgdSteps;

  @Option(names = "--pgd-alpha", paramLabel = "A", defaultValue = "0", description = "PGD step size (default "
      + "epsilon/4).")
  double pgdAlpha;

  @Option(names = "--pixel-space", description = "Give --noise, --epsilon and --pgd-alpha in [0, 1] pixel units "
      + "(e.g. 0.0157 for 4/255) and clip every perturbed image to the valid pixel range, as the paper does.")
  boolean pixelSpace;

  @Option(names = "--oversmoothing", description = "Also report token cosine similarity by depth.")
  boolean oversmoothing;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of the noise (default 0).")
  long seed;

  @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "Intra-op threads (default 0: "
      + "one per available processor).")
  int threads;

  @Option(names = "--out", paramLabel = "FILE.json", description = "Where to write the report (default "
      + "RUN/analysis.json).")
  Path reportFile;

  @Override
  public Integer call() {
    PrintWriter w = spec.commandLine().getOut();
    SessionOptionsSpec options = SessionOptionsSpec.builder().provider("cpu")
        .intraOpThreads(threads > 0 ? threads : Runtime.getRuntime().availableProcessors()).build();
    try {
      Analysis.Config config = new Analysis.Config(examples, batch, noise,
          attacks.stream().map(a -> a.trim().toLowerCase(Locale.ROOT)).toList(), epsilons, pgdSteps,
          pgdAlpha, oversmoothing, seed, pixelSpace);
      if (!Files.isDirectory(run)) {
        throw new CliException(run + ": run directory does not exist");
      }
      RunSettings s;
      Path source;
      long step;
      try (TrainedRun r = TrainedRun.open(run, options)) {
        if (!(r.model() instanceof VisionTransformer)) {
          throw new CliException(run + ": analyze supports image (ViT) runs; this is a '" + r.settings().preset()
              + "' run");
        }
        s = r.settings();
        source = r.source();
        step = r.step();
      }
      if (!source.getFileName().toString().equals(Checkpoint.FILE_NAME)) {
        throw new CliException(run + ": analyze needs " + Checkpoint.FILE_NAME + " (found only " + source
            .getFileName() + ")");
      }
      var model = s.model();
      StateDict weights = Checkpoint.read(source).parameters(model);
      Path dir = dataDir != null ? dataDir : s.dataDir() != null ? Path.of(s.dataDir()) : null;
      TrainingData td = TrainingData.load(TrainingData.FASHION_MNIST, dir);
      LabeledImages test = td.fashion().test();
      AnalysisReport report;
      try (AnalysisSession session = AnalysisSession.open(model, weights, options)) {
        report = Analysis.run(session, test, config);
      }
      w.println("analyze: " + s.preset() + " from " + source + " (step " + step + "), " + report.examples()
          + " test images of " + td.describe());
      w.print(report.format());
      Map<String, Object> header = new LinkedHashMap<>();
      header.put("run", run.toString());
      header.put("preset", s.preset());
      header.put("attention", String.valueOf(model.attentionKinds()));
      header.put("step", step);
      header.put("units", pixelSpace ? "pixel, clipped to [0, 1]" : "normalised, unclipped");
      header.put("data", td.describe());
      // The results are on the terminal before the report is written, so a read-only run loses nothing.
      w.flush();
      Path out = reportFile != null ? reportFile : run.resolve(AnalysisReport.FILE_NAME);
      try {
        AnalysisReport.writeAtomically(out, report.toJson(header));
      } catch (IOException e) {
        String why = CliException.describe(e);
        throw new CliException("cannot write the report " + out + " (the results are printed above): "
            + (why.startsWith(out.toString()) ? why.substring(out.toString().length()).replaceFirst("^: ", "")
                : why), e);
      }
      w.println("wrote " + out);
      w.flush();
      return 0;
    } catch (CliException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new CliException(CliException.describe(e), e);
    }
  }
}
