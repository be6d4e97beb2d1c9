package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.twicing.models.study.StudyPlan;
import org.twicing.models.study.StudyResults;
import org.twicing.models.study.StudyRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code twicing study}: runs a reproduction study's plan of trainings and analyses, resumably. */
@Command(
    name = "study",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    sortOptions = false,
    description = {"Run a reproduction study of the paper's claims: a plan of training runs (vision and byte-level "
        + "language models, several seeds per attention setting) and their analyses (test accuracy, robustness to "
        + "FGSM/PGD/noise in pixel space, oversmoothing, test bits per byte, generation samples), then write "
        + "DIR/RESULTS.md with mean +- std over seeds, paired comparisons and PNG figures.", "",
        "Resumable: run the same command again to skip finished runs and resume an interrupted one. Without "
        + "--plan the built-in default plan runs (print it with --print-plan; save, edit and pass it with --plan)."})
public final class StudyCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--plan", paramLabel = "PLAN", description = "A plan file (JSON, see --print-plan); default: the "
      + "built-in plan, or the plan recorded in --out when resuming.")
  Path plan;

  @Option(names = "--out", paramLabel = "DIR", defaultValue = "study", description = "Study directory (default "
      + "./study).")
  Path out;

  @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "Intra-op threads of every run "
      + "(default 0: one per available processor).")
  int threads;

  @Option(names = "--max-runs", paramLabel = "N", defaultValue = "0", description = "Stop after N runs were "
      + "trained or analysed (default 0: all).")
  int maxRuns;

  @Option(names = "--print-plan", description = "Print the plan as JSON and exit.")
  boolean printPlan;

  @Option(names = "--report-only", description = "Only rewrite DIR/RESULTS.md and the figures from the runs "
      + "finished so far; train and analyse nothing.")
  boolean reportOnly;

  @Override
  public Integer call() {
    PrintWriter w = spec.commandLine().getOut();
    if (threads < 0 || threads > 1024) {
      throw new CliException("--threads must be between 0 and 1024, got " + threads, null, TwicingCli.EXIT_USAGE);
    }
    if (maxRuns < 0) {
      throw new CliException("--max-runs must be >= 0, got " + maxRuns, null, TwicingCli.EXIT_USAGE);
    }
    try {
      Path recorded = out.resolve(StudyRunner.PLAN_FILE);
      StudyPlan p = plan != null ? StudyPlan.read(plan)
          : Files.isRegularFile(recorded) ? StudyPlan.read(recorded) : StudyPlan.defaults();
      if (printPlan) {
        w.println(p.toJson());
        w.flush();
        return 0;
      }
      if (reportOnly) {
        if (!Files.isDirectory(out.resolve("runs"))) {
          throw new CliException(out + ": not a study directory (no runs/ in it)");
        }
        StudyResults.write(p, out, w);
        w.flush();
        return 0;
      }
      int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
      w.println("study: plan '" + p.name() + "', " + p.runs().size() + " runs, in " + out);
      w.flush();
      new StudyRunner(p, out, w, n).run(maxRuns);
      w.flush();
      return 0;
    } catch (CliException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new CliException(CliException.describe(e), e);
    }
  }
}
