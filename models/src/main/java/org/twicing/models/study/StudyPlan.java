package org.twicing.models.study;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A reproduction study: which training runs to make (vision and language), with which seeds, and which analyses
 * to run on them. Read from a JSON file ({@link #read}) or the built-in {@link #defaults()}, which is the plan of
 * issue 13: vit-fmnist with softmax, twicing and twicing-learned attention, and a byte-level LM with softmax,
 * twicing in the last 2 layers and twicing in all layers, 3 seeds each.
 *
 * @param name a label for the plan, printed in RESULTS.md
 * @param vision the image runs, or null for none
 * @param language the language-model runs, or null for none
 */
public record StudyPlan(String name, Vision vision, Language language) {

  /**
   * The vision half: preset {@code model} trained for {@code epochs} with each attention kind and seed, then
   * analysed for robustness and oversmoothing.
   *
   * @param model zoo preset (an image model)
   * @param attention attention kinds, each a {@code --attention} value
   * @param seeds seeds, the same for every kind so comparisons are paired
   * @param epochs training epochs per run
   * @param steps training steps per run instead of epochs when positive (for quick plans)
   * @param batch examples per step
   * @param dataDir Fashion-MNIST directory, or null for the default lookup
   * @param robustness the robustness analysis
   */
  public record Vision(String model, List<String> attention, List<Long> seeds, int epochs, long steps, int batch,
      String dataDir, Robustness robustness) { }

  /**
   * The robustness and oversmoothing analysis of each vision run, in pixel space as the paper's attacks are.
   *
   * @param examples test images analysed
   * @param epsilons255 attack radii in units of 1/255 of the pixel range
   * @param noise Gaussian noise standard deviations in [0, 1] pixel units
   * @param pgdSteps PGD iterations (step size epsilon / 4)
   */
  public record Robustness(int examples, List<Double> epsilons255, List<Double> noise, int pgdSteps) { }

  /**
   * The language half: preset {@code model} trained on a byte-level corpus split by document.
   *
   * @param model zoo preset (a language model)
   * @param corpus a directory of fortune files ({@code %}-separated documents), or a split directory
   * @param settings the attention settings compared
   * @param seeds seeds, the same for every setting
   * @param steps training steps per run
   * @param batch windows per step
   * @param prompt the prompt of the generation samples
   * @param sampleBytes bytes generated per sample
   */
  public record Language(String model, String corpus, List<Setting> settings, List<Long> seeds, long steps,
      int batch, String prompt, int sampleBytes) { }

  /**
   * One language-model setting.
   *
   * @param label short name used in run names and tables
   * @param attention the {@code --attention} value
   * @param twicingLayers the {@code --twicing-layers} value, or null
   */
  public record Setting(String label, String attention, String twicingLayers) { }

  /** The default plan (see the class comment). */
  public static StudyPlan defaults() {
    List<Long> seeds = List.of(0L, 1L, 2L);
    return new StudyPlan("default",
        new Vision("vit-fmnist", List.of("softmax", "twicing", "twicing-learned"), seeds, 3, 0, 64, null,
            new Robustness(1000, List.of(1.0, 2.0, 4.0, 8.0), List.of(0.05, 0.1, 0.2, 0.3), 10)),
        new Language("lm-tiny", "/usr/share/games/fortunes",
            List.of(new Setting("softmax", "softmax", null), new Setting("twicing-last2", "twicing", "last:2"),
                new Setting("twicing-all", "twicing", "all")),
            seeds, 1500, 16, "The meaning of life is", 200));
  }

  /** Reads a plan from a JSON file with this record's field names; fails naming the file and the bad field. */
  public static StudyPlan read(Path file) throws IOException {
    String json = Files.readString(file, StandardCharsets.UTF_8);
    StudyPlan plan;
    try {
      plan = new Gson().fromJson(json, StudyPlan.class);
    } catch (JsonParseException e) {
      throw new IOException(file + ": not a study plan (" + e.getMessage() + ")", e);
    }
    if (plan == null) {
      throw new IOException(file + ": the plan is empty");
    }
    List<String> problems = plan.problems();
    if (!problems.isEmpty()) {
      throw new IOException(file + ": " + String.join("; ", problems));
    }
    return plan;
  }

  /** The plan as JSON, the form {@link #read} accepts. */
  public String toJson() {
    return new GsonBuilder().setPrettyPrinting().create().toJson(this);
  }

  /** What is wrong with this plan, one message per bad field (empty when it is usable). */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (vision == null && language == null) {
      p.add("the plan has neither 'vision' nor 'language' runs");
    }
    if (vision != null) {
      require(p, vision.model() != null, "vision.model is missing");
      require(p, vision.attention() != null && !vision.attention().isEmpty(), "vision.attention needs at least one kind");
      require(p, vision.seeds() != null && !vision.seeds().isEmpty(), "vision.seeds needs at least one seed");
      require(p, vision.epochs() > 0 || vision.steps() > 0, "vision needs epochs > 0 or steps > 0");
      require(p, vision.batch() > 0, "vision.batch must be positive");
      Robustness r = vision.robustness();
      require(p, r != null, "vision.robustness is missing");
      if (r != null) {
        require(p, r.examples() > 0, "vision.robustness.examples must be positive");
        require(p, r.epsilons255() != null && r.noise() != null, "vision.robustness needs epsilons255 and noise lists");
        require(p, r.pgdSteps() > 0, "vision.robustness.pgdSteps must be positive");
      }
    }
    if (language != null) {
      require(p, language.model() != null, "language.model is missing");
      require(p, language.corpus() != null, "language.corpus is missing");
      require(p, language.settings() != null && !language.settings().isEmpty(), "language.settings needs entries");
      require(p, language.seeds() != null && !language.seeds().isEmpty(), "language.seeds needs at least one seed");
      require(p, language.steps() > 0, "language.steps must be positive");
      require(p, language.batch() > 0, "language.batch must be positive");
      require(p, language.sampleBytes() >= 0, "language.sampleBytes must be >= 0");
      if (language.settings() != null) {
        for (Setting s : language.settings()) {
          require(p, s.label() != null && s.label().matches("[A-Za-z0-9_.-]+"),
              "language.settings: label '" + s.label() + "' must be letters, digits, '.', '_' or '-'");
          require(p, s.attention() != null, "language.settings '" + s.label() + "' has no attention");
        }
      }
    }
    return p;
  }

  private static void require(List<String> problems, boolean ok, String message) {
    if (!ok) {
      problems.add(message);
    }
  }

  /**
   * Every run of the plan in the order the study makes them: all language runs first (they are cheap and give a
   * complete paired comparison early), then the vision runs seed by seed (so that each finished seed completes a
   * paired comparison).
   */
  public List<StudyRun> runs() {
    List<StudyRun> runs = new ArrayList<>();
    if (language != null) {
      for (long seed : language.seeds()) {
        for (Setting s : language.settings()) {
          runs.add(StudyRun.language(this, s, seed));
        }
      }
    }
    if (vision != null) {
      for (long seed : vision.seeds()) {
        for (String kind : vision.attention()) {
          runs.add(StudyRun.vision(this, kind, seed));
        }
      }
    }
    return runs;
  }
}
