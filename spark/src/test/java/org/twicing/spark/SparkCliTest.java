package org.twicing.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.ImageInput;
import org.twicing.models.training.TrainedRun;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.MetricsLog;

/** {@code twicing train/eval/predict --spark MASTER} in-process, against the same commands without Spark. */
class SparkCliTest {
  @TempDir
  Path tmp;

  static String line(String out, String prefix) {
    return out.lines().filter(l -> l.startsWith(prefix)).findFirst()
        .orElseThrow(() -> new AssertionError("no line starting with '" + prefix + "' in:\n" + out));
  }

  @Test
  void evalOnSparkPrintsTheSingleProcessResult() throws IOException {
    String run = SparkTestSupport.vitRun().toString();
    String data = SparkTestSupport.fmnist().toString();
    SparkTestSupport.spark();
    String local = SparkTestSupport.cli("eval", "--run", run, "--data-dir", data, "--threads", "1");
    String spark = SparkTestSupport.cli("eval", "--run", run, "--data-dir", data, "--spark", SparkTestSupport.MASTER,
        "--batch", "16");
    assertEquals(line(local, "test accuracy"), line(spark, "test accuracy"));
  }

  @Test
  void predictOnSparkWritesParquetEqualToSingleProcessLogits() throws IOException {
    Path run = SparkTestSupport.vitRun();
    LabeledImages test = FashionMnist.load(SparkTestSupport.fmnist()).test();
    Path pngs = Files.createDirectories(tmp.resolve("pngs"));
    for (int i = 0; i < 5; i++) {
      BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
      for (int p = 0; p < 784; p++) {
        img.getRaster().setSample(p % 28, p / 28, 0, test.pixel(i, p));
      }
      ImageIO.write(img, "png", pngs.resolve("img" + i + ".png").toFile());
    }
    Path out = tmp.resolve("scores.parquet");
    String o = SparkTestSupport.cli("predict", "--run", run.toString(), "--spark", SparkTestSupport.MASTER,
        "--input", pngs.toString(), "--output", out.toString());
    assertTrue(o.contains("scored 5 rows"), o);
    List<Row> rows = SparkTestSupport.spark().read().parquet(out.toString()).select("path", "logits", "prediction")
        .collectAsList();
    assertEquals(5, rows.size());
    try (TrainedRun r = TrainedRun.open(run, SessionOptionsSpec.builder().intraOpThreads(1).build())) {
      for (Row row : rows) {
        float[] px = ImageInput.load(Path.of(row.getString(0)), 28, FashionMnist.MEAN, FashionMnist.STD,
            ImageInput.Invert.AUTO).pixels();
        float[] want;
        try (OnnxTensor in = Tensors.floats(px, 1, 1, 28, 28)) {
          want = r.runner().logits(in);
        }
        List<Float> got = row.getList(1);
        int best = 0;
        for (int k = 0; k < want.length; k++) {
          assertEquals(want[k], got.get(k), 1e-6 * Math.max(1, Math.abs(want[k])), row.getString(0));
          best = want[k] > want[best] ? k : best;
        }
        assertEquals(best, row.getInt(2));
      }
    }
    // Without --spark, --input is an error naming what is missing.
    AssertionError e = assertThrows(AssertionError.class, () -> SparkTestSupport.cli("predict", "--run",
        run.toString(), "--input", pngs.toString(), "--output", out.toString()));
    assertTrue(e.getMessage().contains("--input/--output need --spark MASTER"), e.getMessage());
  }

  @Test
  void trainOnSparkWritesTheRunDirectoryAndEvaluates() throws IOException {
    Path dir = tmp.resolve("dp");
    SparkTestSupport.spark();
    String o = SparkTestSupport.cli("train", "--data-dir", SparkTestSupport.fmnist().toString(), "--steps", "3",
        "--batch", "8", "--threads", "1", "--spark", SparkTestSupport.MASTER, "--workers", "2", "--out",
        dir.toString());
    assertTrue(o.contains("data parallel: 2 workers"), o);
    assertTrue(o.contains("spark: 3 steps"), o);
    for (String f : List.of(MetricsLog.FILE_NAME, Checkpoint.FILE_NAME, "model.onnx", "curves.png")) {
      assertTrue(Files.size(dir.resolve(f)) > 0, f);
    }
    assertEquals(3, Checkpoint.read(dir.resolve(Checkpoint.FILE_NAME)).step());
    AssertionError e = assertThrows(AssertionError.class, () -> SparkTestSupport.cli("train", "--steps", "1",
        "--workers", "2", "--out", tmp.resolve("x").toString()));
    assertTrue(e.getMessage().contains("--workers needs --spark MASTER"), e.getMessage());
    Path sgd = tmp.resolve("sgd");
    String o2 = SparkTestSupport.cli("train", "--data-dir", SparkTestSupport.fmnist().toString(), "--steps", "2",
        "--batch", "8", "--threads", "1", "--spark", SparkTestSupport.MASTER, "--workers", "2", "--sync-every", "2",
        "--out", sgd.toString());
    assertTrue(o2.contains("local SGD, replicas averaged every 2 steps"), o2);
    assertEquals(2, Checkpoint.read(sgd.resolve(Checkpoint.FILE_NAME)).step());
    e = assertThrows(AssertionError.class, () -> SparkTestSupport.cli("train", "--steps", "1", "--sync-every", "2",
        "--out", tmp.resolve("y").toString()));
    assertTrue(e.getMessage().contains("--sync-every needs --spark MASTER"), e.getMessage());
  }
}
