package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.models.data.FashionMnist;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.InferenceRunner;
import org.twicing.runtime.train.LrSchedule;
import org.twicing.runtime.train.MetricsLog;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;

/** Trains a small twicing ViT on the bundled Fashion-MNIST subset and checks it learns. */
class EndToEndTrainingTest {
  @TempDir
  Path tmp;

  @Test
  void smallVitLearnsFashionMnistSubset() throws Exception {
    FashionMnist data = FashionMnist.loadBundledSubset();
    VisionTransformer model = new VisionTransformer(VisionTransformer.Config.builder("vit-small-test").imageSize(28)
        .channels(1).patch(7).classes(10).dim(32).depth(2).heads(2).mlp(64).attention(AttentionKind.TWICING).build());
    Evaluation eval = Evaluation.accuracy(data.test(), 250, 500);
    Path run = tmp.resolve("run");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    long steps = 300;
    TrainResult r = new Trainer(TrainerConfig.builder(model).runDir(run).steps(steps).seed(1)
        .schedule(LrSchedule.warmupCosine(3e-3, 15, steps, 3e-5)).evaluator(eval).evalEvery(100)
        .checkpointEvery(100).out(new PrintStream(log, true, StandardCharsets.UTF_8)).progressBar(false).build())
        .train(new FashionMnistBatches(data.train(), 32, 1));
    double acc = r.finalMetrics().get("accuracy");
    assertEquals(1000.0, r.finalMetrics().get("examples"));
    assertTrue(acc > 0.6, "test accuracy " + acc + " should be well above chance (0.1)");
    assertTrue(r.lastLoss() < 1.2, "final loss " + r.lastLoss());
    List<Map<String, Double>> metrics = MetricsLog.read(run.resolve(MetricsLog.FILE_NAME));
    assertEquals(steps, metrics.size());
    assertEquals(acc, metrics.get(metrics.size() - 1).get("eval_accuracy"));
    assertTrue(Files.size(run.resolve("curves.png")) > 1000);
    assertEquals(3, log.toString(StandardCharsets.UTF_8).lines().count());
    // The trained model.onnx gives the same accuracy as the in-training evaluation on the current weights.
    try (ModelSession s = ModelSession.open(run.resolve(Trainer.MODEL_FILE), SessionOptionsSpec.defaults())) {
      assertEquals(acc, eval.evaluate(InferenceRunner.of(s, "pixels"), true).get("accuracy"), 1e-9);
    }
  }
}
