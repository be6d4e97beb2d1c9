package org.twicing.models.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The study's statistics against closed forms and hand computations. */
class StatsTest {
  @Test
  void meanAndSampleStd() {
    List<Double> xs = List.of(2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0);
    assertEquals(5.0, Stats.mean(xs), 1e-15);
    // Sum of squared deviations is 32; the sample variance divides by n - 1 = 7.
    assertEquals(Math.sqrt(32.0 / 7), Stats.std(xs), 1e-15);
    assertEquals(Double.NaN, Stats.std(List.of(1.0)));
  }

  @Test
  void studentTPValuesMatchClosedForms() {
    for (double t : new double[] {0.1, 0.7, 1.0, 2.0, 4.3, 12.7}) {
      // df = 1 is the Cauchy distribution: p = 1 - (2/pi) atan|t|.
      assertEquals(1 - 2 / Math.PI * Math.atan(t), Stats.twoSidedP(t, 1), 1e-12, "df 1, t " + t);
      assertEquals(1 - 2 / Math.PI * Math.atan(t), Stats.twoSidedP(-t, 1), 1e-12, "df 1, t " + -t);
      // df = 2: p = 1 - |t| / sqrt(2 + t^2).
      assertEquals(1 - t / Math.sqrt(2 + t * t), Stats.twoSidedP(t, 2), 1e-12, "df 2, t " + t);
    }
    // Large df approaches the normal: p(1.959964) = 0.05.
    assertEquals(0.05, Stats.twoSidedP(1.959964, 100_000), 1e-4);
    assertEquals(1.0, Stats.twoSidedP(0, 5), 1e-12);
  }

  @Test
  void logGammaMatchesFactorials() {
    double f = 1;
    for (int n = 1; n < 20; n++) {
      assertEquals(Math.log(f), Stats.logGamma(n), 1e-10, "log Gamma(" + n + ")");
      f *= n;
    }
    assertEquals(0.5 * Math.log(Math.PI), Stats.logGamma(0.5), 1e-12);
  }

  @Test
  void pairedTestOnDifferences() {
    List<Double> a = List.of(0.80, 0.82, 0.81);
    List<Double> b = List.of(0.83, 0.84, 0.82);
    Stats.Paired p = Stats.paired(a, b);
    // Differences 0.03, 0.02, 0.01: mean 0.02, sample std 0.01, t = 0.02 / (0.01 / sqrt 3).
    assertEquals(3, p.n());
    assertEquals(0.02, p.meanDiff(), 1e-12);
    assertEquals(0.01, p.stdDiff(), 1e-12);
    double t = 0.02 / (0.01 / Math.sqrt(3));
    assertEquals(t, p.t(), 1e-9);
    assertEquals(1 - t / Math.sqrt(2 + t * t), p.p(), 1e-9);
    assertEquals(3, p.wins());
    assertThrows(IllegalArgumentException.class, () -> Stats.paired(a, List.of(1.0)));
  }
}
