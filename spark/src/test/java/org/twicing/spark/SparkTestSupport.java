package org.twicing.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.FashionMnistSubset;
import org.twicing.models.data.LabeledImages;
import picocli.CommandLine;

/** Shared fixtures of the spark tests: one local Spark session per test JVM, a tiny Fashion-MNIST, a trained run. */
final class SparkTestSupport {
  /** Two task slots, and up to 3 attempts per task so that the fault test can see a retry. */
  static final String MASTER = "local[2,3]";

  private static SparkSession spark;
  private static Path fmnist;
  private static Path vitRun;

  private SparkTestSupport() { }

  /** The test JVM's Spark session (Spark allows one context per JVM; every test class shares it). */
  static synchronized SparkSession spark() {
    if (spark == null) {
      spark = SparkSessions.local(MASTER);
    }
    return spark;
  }

  /** A directory of four IDX files: 64 training and 96 test images of the bundled subset. */
  static synchronized Path fmnist() throws IOException {
    if (fmnist == null) {
      FashionMnist bundled = FashionMnist.loadBundledSubset();
      Path dir = Files.createTempDirectory("twicing-spark-fmnist");
      FashionMnistSubset.writeEvenlySpaced(bundled, 64, 96, dir);
      fmnist = dir;
    }
    return fmnist;
  }

  /** A vit-fmnist run trained for 3 steps on {@link #fmnist()} by {@code twicing train} (single process). */
  static synchronized Path vitRun() throws IOException {
    if (vitRun == null) {
      Path dir = Files.createTempDirectory("twicing-spark-run").resolve("vit");
      String out = cli("train", "--data-dir", fmnist().toString(), "--steps", "3", "--batch", "8", "--threads", "2",
          "--out", dir.toString());
      if (!Files.exists(dir.resolve("checkpoint.safetensors"))) {
        throw new IllegalStateException("twicing train did not write a run: " + out);
      }
      vitRun = dir;
    }
    return vitRun;
  }

  /** Runs the twicing CLI in-process; fails with its output when the exit code is not 0. */
  static String cli(String... args) {
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(out, true));
    int code = cl.execute(args);
    if (code != 0) {
      throw new AssertionError("twicing " + String.join(" ", args) + " exited with " + code + ":\n" + out);
    }
    return out.toString();
  }

  /** The images as rows (index, label, image: normalised pixels) in {@code partitions} partitions. */
  static Dataset<Row> imageRows(LabeledImages images, int partitions) {
    List<Row> rows = new ArrayList<>();
    float[] px = new float[images.pixelsPerImage()];
    for (int i = 0; i < images.size(); i++) {
      images.copyNormalizedImage(i, px, 0);
      rows.add(RowFactory.create(i, (int) images.label(i), px.clone()));
    }
    StructType schema = new StructType().add("index", DataTypes.IntegerType, false)
        .add("label", DataTypes.IntegerType, false)
        .add("image", DataTypes.createArrayType(DataTypes.FloatType, false), false);
    return spark().createDataFrame(rows, schema).repartition(partitions);
  }

}
