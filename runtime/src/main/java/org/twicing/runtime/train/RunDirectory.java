package org.twicing.runtime.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Which run a directory belongs to: a training run starts only in a directory without another run's files, unless
 * it continues the checkpoint found there or is told to overwrite them, so metrics and checkpoints of two runs
 * never end up side by side.
 */
public final class RunDirectory {
  /**
   * The files a run writes. {@code analysis.json} is {@code twicing analyze}'s report of the run's checkpoint:
   * it would describe the old run, so it goes with the rest.
   */
  public static final List<String> RUN_FILES = List.of(Checkpoint.FILE_NAME, MetricsLog.FILE_NAME, Trainer.MODEL_FILE,
      Trainer.MODEL_FILE + ".data", Curves.FILE_NAME, "analysis.json");

  private RunDirectory() { }

  /** The run files present in {@code dir}, in {@link #RUN_FILES} order (empty when it is missing or fresh). */
  public static List<String> existingRunFiles(Path dir) {
    List<String> found = new ArrayList<>();
    if (Files.isDirectory(dir)) {
      for (String f : RUN_FILES) {
        if (Files.exists(dir.resolve(f))) {
          found.add(f);
        }
      }
    }
    return found;
  }

  /** Whether {@code resumeFrom} (may be null) is the checkpoint inside {@code runDir}, i.e. the run continues. */
  public static boolean continues(Path runDir, Path resumeFrom) {
    return resumeFrom != null && resumeFrom.toAbsolutePath().normalize()
        .equals(runDir.resolve(Checkpoint.FILE_NAME).toAbsolutePath().normalize());
  }

  /**
   * Checks that a run may start in {@code runDir}: it holds no run files, or the run continues its checkpoint.
   *
   * @throws ExistingRunException naming the directory and its files otherwise
   */
  public static void requireFree(Path runDir, Path resumeFrom) throws ExistingRunException {
    List<String> found = existingRunFiles(runDir);
    if (!found.isEmpty() && !continues(runDir, resumeFrom)) {
      throw new ExistingRunException(runDir, found);
    }
  }

  /**
   * Makes {@code runDir} ready for a run (the caller holds its {@link RunLock}): with {@code overwrite}, deletes
   * another run's files (reporting them to {@code notices}); without, {@link #requireFree}.
   */
  static void prepare(Path runDir, Path resumeFrom, boolean overwrite, Consumer<String> notices) throws IOException {
    if (!overwrite || continues(runDir, resumeFrom)) {
      requireFree(runDir, resumeFrom);
      return;
    }
    List<String> found = existingRunFiles(runDir);
    for (String f : found) {
      Files.deleteIfExists(runDir.resolve(f));
    }
    if (!found.isEmpty()) {
      notices.accept("note: --overwrite: deleted the previous run's " + String.join(", ", found) + " in " + runDir);
    }
  }

  /** A run directory already holds another run. */
  public static final class ExistingRunException extends IOException {
    private static final long serialVersionUID = 1L;

    ExistingRunException(Path runDir, List<String> files) {
      super(runDir + ": already holds a run (" + String.join(", ", files) + "); continue it with --resume "
          + runDir + ", replace it with --overwrite, or choose another --out");
    }
  }
}
