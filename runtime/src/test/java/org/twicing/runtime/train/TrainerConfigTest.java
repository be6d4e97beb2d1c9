package org.twicing.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.train.TrainingSpec;

/** The trainer's required settings (schedule, steps, run directory) and the errors that name the missing call. */
class TrainerConfigTest {
  @Test
  void theThreeRequiredSettingsAreEnoughAndTheRestHaveDefaults() {
    TrainerConfig c = TrainerConfig.builder(TinyVit.model()).schedule(LrSchedule.constant(1e-3)).steps(10)
        .runDir(Path.of("run")).build();
    assertEquals(10, c.totalSteps());
    assertEquals(10, c.stopAt());
    assertEquals(TrainingSpec.defaults(), c.spec());
    assertEquals(0, c.seed());
    assertEquals(null, c.evaluator());
    assertTrue(c.finalArtifacts());
  }

  @Test
  void eachMissingSettingIsAnErrorNamingTheCallToMake() {
    Throwable schedule = assertThrows(NullPointerException.class,
        () -> TrainerConfig.builder(TinyVit.model()).steps(10).runDir(Path.of("run")).build());
    assertTrue(schedule.getMessage().contains("schedule(LrSchedule)"), schedule.getMessage());
    Throwable dir = assertThrows(NullPointerException.class,
        () -> TrainerConfig.builder(TinyVit.model()).schedule(LrSchedule.constant(1e-3)).steps(10).build());
    assertTrue(dir.getMessage().contains("runDir(Path)"), dir.getMessage());
    Throwable steps = assertThrows(IllegalArgumentException.class,
        () -> TrainerConfig.builder(TinyVit.model()).schedule(LrSchedule.constant(1e-3)).runDir(Path.of("run"))
            .build());
    assertTrue(steps.getMessage().contains("steps(n)") && steps.getMessage().contains("got 0"), steps.getMessage());
  }
}
