package org.twicing.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class LrScheduleTest {
  @Test
  void constantIsConstant() {
    LrSchedule s = LrSchedule.constant(3e-4);
    for (long step : new long[] {1, 2, 100, 1_000_000}) {
      assertEquals(3e-4, s.at(step), 0.0);
    }
  }

  @Test
  void warmupThenCosineMatchesTheFormula() {
    double peak = 1e-3;
    double min = 1e-5;
    long warmup = 10;
    long total = 110;
    LrSchedule s = LrSchedule.warmupCosine(peak, warmup, total, min);
    // Linear warm-up: step k of W gives peak * k / W (step 1 is not 0).
    assertEquals(1e-4, s.at(1), 1e-15);
    assertEquals(5e-4, s.at(5), 1e-15);
    assertEquals(1e-3, s.at(10), 1e-15);
    // Cosine: min + (peak - min) / 2 * (1 + cos(pi * (step - W) / (T - W))).
    for (long step = 11; step <= total; step++) {
      double t = (step - warmup) / 100.0;
      double expected = min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * t));
      assertEquals(expected, s.at(step), 1e-15, "step " + step);
    }
    assertEquals(min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * 0.5)), s.at(60), 1e-15);
    assertEquals(min, s.at(110), 1e-15);
    assertEquals(min, s.at(500), 1e-15); // stays at the minimum after the planned total
  }

  @Test
  void cosineWithoutWarmupStartsNearPeak() {
    LrSchedule s = LrSchedule.warmupCosine(0.1, 0, 4, 0.0);
    assertEquals(0.1 * 0.5 * (1 + Math.cos(Math.PI / 4)), s.at(1), 1e-15);
    assertEquals(0.05, s.at(2), 1e-15);
    assertEquals(0.0, s.at(4), 1e-15);
  }

  @Test
  void warmupConstant() {
    LrSchedule s = LrSchedule.warmupConstant(2.0, 4);
    assertEquals(0.5, s.at(1), 0.0);
    assertEquals(2.0, s.at(4), 0.0);
    assertEquals(2.0, s.at(40), 0.0);
  }

  @Test
  void encodesAndParsesExactly() {
    LrSchedule s = LrSchedule.warmupCosine(1e-3, 47, 937, 1e-5);
    assertEquals(s, LrSchedule.parse(s.encode()));
    assertEquals(LrSchedule.constant(0.1), LrSchedule.parse(LrSchedule.constant(0.1).encode()));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("linear(3)"));
    // The stored form is JSON; checkpoints written before it hold the describe() form, which still reads back.
    assertTrue(s.encode().startsWith("{\"kind\":\"cosine\""), s.encode());
    assertEquals(s, LrSchedule.parse("cosine(peak=0.001,warmup=47,total=937,min=1.0E-5)"));
    assertEquals(s, LrSchedule.parse(s.describe()));
    Random rng = new Random(3);
    for (int i = 0; i < 50; i++) {
      LrSchedule r = LrSchedule.warmupCosine(rng.nextDouble() * 0.1 + 1e-9, rng.nextInt(100), 100 + rng.nextInt(10000),
          rng.nextDouble() * 1e-9);
      LrSchedule back = LrSchedule.parse(r.encode());
      assertEquals(r.peak(), back.peak(), 0.0);
      assertEquals(r.min(), back.min(), 0.0);
      assertEquals(r.total(), back.total());
    }
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> LrSchedule.parse("{\"kind\":\"cosine\",\"peak\":0.1}"));
    assertTrue(bad.getMessage().contains("\"peak\":0.1"), bad.getMessage());
    assertThrows(IllegalArgumentException.class, () -> s.at(0));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.constant(-1));
  }
}
