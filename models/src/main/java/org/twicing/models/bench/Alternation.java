package org.twicing.models.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Times several contenders in interleaved rounds (A, B, C, A, B, C, ...) so that the slow phases of a noisy
 * machine fall on all of them alike, and reports each one's median.
 */
public final class Alternation {

  /** One thing being timed: runs {@code n} times and returns each run's milliseconds. */
  @FunctionalInterface
  public interface Contender {
    /** Runs {@code n} timed repetitions and returns their times in milliseconds. */
    double[] time(int n) throws Exception;
  }

  private Alternation() {}

  /**
   * Runs {@code rounds} rounds of {@code perRound} timed runs of every contender, in the map's order, and
   * returns all times per contender. Each turn starts with one extra run that is dropped: right after a switch
   * the previous contender's worker threads may still be spinning (OpenMP and ONNX Runtime both spin-wait
   * after parallel work), which would charge one side for the other's idle time.
   */
  public static Map<String, double[]> run(Map<String, Contender> contenders, int rounds, int perRound)
      throws Exception {
    if (rounds < 1 || perRound < 1) {
      throw new IllegalArgumentException("rounds and runs per round must be at least 1, got " + rounds + " and "
          + perRound);
    }
    Map<String, List<Double>> all = new LinkedHashMap<>();
    contenders.keySet().forEach(k -> all.put(k, new ArrayList<>()));
    for (int r = 0; r < rounds; r++) {
      for (Map.Entry<String, Contender> c : contenders.entrySet()) {
        double[] t = c.getValue().time(perRound + 1);
        for (int i = 1; i < t.length; i++) {
          all.get(c.getKey()).add(t[i]);
        }
      }
    }
    Map<String, double[]> result = new LinkedHashMap<>();
    all.forEach((k, v) -> result.put(k, v.stream().mapToDouble(Double::doubleValue).toArray()));
    return result;
  }

  /** The median of {@code ms} (the mean of the middle two for an even count). */
  public static double median(double[] ms) {
    if (ms.length == 0) {
      throw new IllegalArgumentException("median of no times");
    }
    double[] t = ms.clone();
    Arrays.sort(t);
    int n = t.length;
    return n % 2 == 1 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
  }
}
