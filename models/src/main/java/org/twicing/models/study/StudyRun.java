package org.twicing.models.study;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One training run of a study: its directory name, its group and setting (what it is compared by), its seed, and
 * the {@code twicing train} arguments that make it (without {@code --out}).
 *
 * @param name the run directory's name under DIR/runs
 * @param kind {@link Kind#VISION} or {@link Kind#LANGUAGE}
 * @param setting the attention kind or language setting label
 * @param seed the seed of weights, data order and dropout
 * @param trainArgs the arguments after {@code train}, {@code --out} excluded
 */
public record StudyRun(String name, Kind kind, String setting, long seed, List<String> trainArgs) {

  /** Which half of the study a run belongs to. */
  public enum Kind {
    /** An image classifier, analysed for robustness and oversmoothing. */
    VISION,
    /** A byte-level language model, evaluated on the held-out test split. */
    LANGUAGE
  }

  /** The vision run of {@code attention} at {@code seed}. */
  static StudyRun vision(StudyPlan plan, String attention, long seed) {
    StudyPlan.Vision v = plan.vision();
    List<String> a = new ArrayList<>(List.of("--model", v.model(), "--attention", attention, "--batch",
        Integer.toString(v.batch()), "--seed", Long.toString(seed)));
    if (v.steps() > 0) {
      a.addAll(List.of("--steps", Long.toString(v.steps())));
    } else {
      a.addAll(List.of("--epochs", Integer.toString(v.epochs())));
    }
    if (v.dataDir() != null) {
      a.addAll(List.of("--data-dir", v.dataDir()));
    }
    return new StudyRun("vision-" + attention + "-s" + seed, Kind.VISION, attention, seed, List.copyOf(a));
  }

  /** The language run of {@code setting} at {@code seed}; its data is the study's prepared corpus. */
  static StudyRun language(StudyPlan plan, StudyPlan.Setting setting, long seed) {
    StudyPlan.Language l = plan.language();
    List<String> a = new ArrayList<>(List.of("--model", l.model(), "--attention", setting.attention(), "--steps",
        Long.toString(l.steps()), "--batch", Integer.toString(l.batch()), "--seed", Long.toString(seed)));
    if (setting.twicingLayers() != null) {
      a.addAll(List.of("--twicing-layers", setting.twicingLayers()));
    }
    return new StudyRun("lm-" + setting.label() + "-s" + seed, Kind.LANGUAGE, setting.label(), seed, List.copyOf(a));
  }

  /** This run's directory under the study directory. */
  public Path directory(Path studyDir) {
    return studyDir.resolve("runs").resolve(name);
  }
}
