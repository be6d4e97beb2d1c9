package org.twicing.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.Evaluation;
import org.twicing.models.training.TrainedRun;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;

/** {@link SparkScorer} on local[2] against the single-process runner and evaluation of the same trained run. */
class SparkScorerTest {
  @Test
  void scoresLikeTheSingleProcessRunnerWithOneSessionPerJvm() throws IOException {
    Path run = SparkTestSupport.vitRun();
    LabeledImages test = FashionMnist.load(SparkTestSupport.fmnist()).test();
    float[] reference;
    double referenceAccuracy;
    try (TrainedRun r = TrainedRun.open(run, SessionOptionsSpec.builder().intraOpThreads(1).build())) {
      // The single-process path of `twicing eval`: all images in one batch through the run's runner.
      try (OnnxTensor in = Tensors.floats(test.normalizedImages(), test.size(), 1, 28, 28)) {
        reference = r.runner().logits(in);
      }
      Map<String, Double> m = Evaluation.accuracy(test, 256, 0).evaluate(r.runner(), true);
      referenceAccuracy = m.get("accuracy");
    }
    int before = ExecutorSessions.opened();
    try (SparkScorer scorer = SparkScorer.forRun(SparkTestSupport.spark(), run).batchSize(10)) {
      Dataset<Row> scored = scorer.score(SparkTestSupport.imageRows(test, 3));
      List<Row> rows = scored.select("index", "label", "logits", "prediction").collectAsList();
      assertEquals(test.size(), rows.size());
      int correct = 0;
      for (Row row : rows) {
        int i = row.getInt(0);
        List<Float> logits = row.getList(2);
        assertEquals(10, logits.size());
        int best = 0;
        for (int k = 0; k < 10; k++) {
          float want = reference[i * 10 + k];
          assertEquals(want, logits.get(k), 1e-6 * Math.max(1, Math.abs(want)), "image " + i + " class " + k);
          if (reference[i * 10 + k] > reference[i * 10 + best]) {
            best = k;
          }
        }
        assertEquals(best, row.getInt(3), "prediction of image " + i);
        correct += row.getInt(3) == row.getInt(1) ? 1 : 0;
      }
      assertEquals(referenceAccuracy, correct / (double) test.size(), 0.0);
      assertEquals(1, ExecutorSessions.opened() - before, "one session per model in the (single, local) JVM");
      // Scoring again reuses the executor's session.
      assertEquals(test.size(), scored.count());
      assertEquals(1, ExecutorSessions.opened() - before);
    }
  }

  @Test
  void badColumnsAreClearErrors() throws IOException {
    LabeledImages test = FashionMnist.load(SparkTestSupport.fmnist()).test();
    try (SparkScorer scorer = SparkScorer.forRun(SparkTestSupport.spark(), SparkTestSupport.vitRun())) {
      Dataset<Row> rows = SparkTestSupport.imageRows(test, 1);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> scorer.inputColumn("pixels").score(rows));
      assertTrue(e.getMessage().contains("no column 'pixels'"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> scorer.inputColumn("label").score(rows));
      assertTrue(e.getMessage().contains("array<float>"), e.getMessage());
    }
  }
}
