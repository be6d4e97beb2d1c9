package org.twicing.spark;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Classifier metrics of a {@link SparkScorer} output, summed on the executors: the same {@code accuracy},
 * {@code loss} (mean cross-entropy of the logits against the label) and {@code examples} as the single-process
 * {@code Evaluation.accuracy}, so its summary line prints them unchanged.
 */
public final class SparkEvaluation {
  private SparkEvaluation() { }

  /** Accuracy, mean loss and example count of {@code scored} against the int column {@code label}. */
  public static Map<String, Double> accuracy(Dataset<Row> scored, String label) {
    double[] t = scored.select(label, SparkScorer.LOGITS, SparkScorer.PREDICTION).javaRDD().map(r -> {
      int y = r.getInt(0);
      List<Float> logits = r.getList(1);
      double max = Double.NEGATIVE_INFINITY;
      for (float l : logits) {
        max = Math.max(max, l);
      }
      double sum = 0;
      for (float l : logits) {
        sum += Math.exp(l - max);
      }
      double loss = max + Math.log(sum) - (y >= 0 && y < logits.size() ? logits.get(y) : Double.NaN);
      return new double[] {r.getInt(2) == y ? 1 : 0, loss, 1};
    }).reduce((a, b) -> new double[] {a[0] + b[0], a[1] + b[1], a[2] + b[2]});
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("accuracy", t[0] / t[2]);
    m.put("loss", t[1] / t[2]);
    m.put("examples", t[2]);
    return m;
  }
}
