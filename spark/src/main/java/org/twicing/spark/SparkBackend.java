package org.twicing.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.models.cli.CliException;
import org.twicing.models.cli.DistributedBackend;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.ImageInput;
import org.twicing.models.training.TrainingData;
import org.twicing.runtime.train.StepRunner;

/**
 * The {@code spark} {@link DistributedBackend} of the twicing command line ({@code --spark MASTER}), registered in
 * {@code META-INF/services}: data-parallel training steps ({@link SparkStepRunner}), distributed evaluation and
 * batch prediction ({@link SparkScorer}).
 */
public final class SparkBackend implements DistributedBackend {
  @Override
  public String name() {
    return "spark";
  }

  @Override
  public Cluster connect(String master, PrintWriter out) {
    boolean ours = SparkSession.getActiveSession().isEmpty() && SparkSession.getDefaultSession().isEmpty();
    SparkSession spark = SparkSessions.local(master);
    return new SparkCluster(spark, ours, out);
  }

  /** One command's use of a Spark session: stops it at the end when the command started it. */
  private static final class SparkCluster implements Cluster {
    private final SparkSession spark;
    private final boolean ours;
    private final PrintWriter out;
    private final StepTimes times = new StepTimes();

    SparkCluster(SparkSession spark, boolean ours, PrintWriter out) {
      this.spark = spark;
      this.ours = ours;
      this.out = out;
    }

    @Override
    public StepRunner.Factory trainSteps(int workers, int syncEvery) {
      JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      return syncEvery > 0 ? LocalSgdStepRunner.factory(sc, DataParallel.of(workers), syncEvery)
          : SparkStepRunner.factory(sc, DataParallel.of(workers), times);
    }

    @Override
    public Map<String, Double> evaluate(Path run, TrainingData data, int batch) throws IOException {
      if (!data.isImages()) {
        throw new CliException("eval --spark scores image classifiers; evaluate language-model runs without --spark",
            null, TwicingCli.EXIT_USAGE);
      }
      LabeledImages test = data.fashion().test();
      try (SparkScorer scorer = SparkScorer.forRun(spark, run).batchSize(batch)) {
        // Partitions of about 0.5 MB (Spark warns above 1 MB a task): the images travel from the driver in the tasks.
        int partitions = Math.max(spark.sparkContext().defaultParallelism(),
            (int) Math.min(10_000, (long) test.size() * test.pixelsPerImage() * 4 / (1 << 19) + 1));
        Dataset<Row> scored = scorer.score(rows(test, partitions));
        return SparkEvaluation.accuracy(scored, "label");
      }
    }

    @Override
    public long predict(Path run, Path input, Path output, int batch) throws IOException {
      RunModel model = RunModel.open(run);
      if (!(model.model() instanceof VisionTransformer v)) {
        throw new CliException("predict --spark scores image classifiers; run " + run + " holds "
            + model.settings().preset(), null, TwicingCli.EXIT_USAGE);
      }
      int side = Math.toIntExact(v.cfg().imageSize());
      Dataset<Row> rows = input(input, side);
      Path tmp = output.toAbsolutePath().resolveSibling(output.getFileName() + ".tmp-" + UUID.randomUUID());
      long n;
      try (SparkScorer scorer = SparkScorer.forModel(spark, model.bytes()).batchSize(batch)) {
        Dataset<Row> scored = scorer.score(rows).drop(SparkScorer.INPUT);
        scored.write().parquet(tmp.toUri().toString());
        n = spark.read().parquet(tmp.toUri().toString()).count();
      }
      // Spark writes a directory; it replaces the output only once complete.
      if (Files.isDirectory(output)) {
        deleteTree(output);
      } else {
        Files.deleteIfExists(output);
      }
      Files.move(tmp, output, StandardCopyOption.ATOMIC_MOVE);
      return n;
    }

    @Override
    public String describe() {
      return "Spark " + spark.version() + " (" + spark.sparkContext().master() + ", " + spark.sparkContext()
          .defaultParallelism() + " slots)";
    }

    @Override
    public void close() {
      if (times.steps() > 0) {
        out.println("spark: " + times);
        out.flush();
      }
      ExecutorSessions.closeAll();
      if (ours) {
        spark.stop();
      }
    }

    /** Images as (path, image) rows: a Parquet data set as is, or PNGs decoded on the executors. */
    private Dataset<Row> input(Path input, int side) throws IOException {
      if (!Files.exists(input)) {
        throw new NoSuchFileException(input.toString(), null, "--input does not exist");
      }
      String name = input.getFileName().toString();
      if (name.endsWith(".parquet") || Files.isDirectory(input) && hasParquet(input)) {
        return spark.read().parquet(input.toUri().toString());
      }
      List<String> files = new ArrayList<>();
      if (Files.isDirectory(input)) {
        try (Stream<Path> s = Files.list(input)) {
          s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")).sorted()
              .forEach(p -> files.add(p.toAbsolutePath().toString()));
        }
        if (files.isEmpty()) {
          throw new NoSuchFileException(input.toString(), null, "--input holds no .png files and no Parquet data");
        }
      } else {
        files.add(input.toAbsolutePath().toString());
      }
      JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      // Decoded where the task runs: the paths must be readable there (a shared file system on a cluster).
      JavaRDD<Row> decoded = sc.parallelize(files, Math.min(files.size(), sc.defaultParallelism()))
          .map(f -> {
            ImageInput.Loaded l = ImageInput.load(Path.of(f), side, FashionMnist.MEAN, FashionMnist.STD,
                ImageInput.Invert.AUTO);
            return RowFactory.create(f, l.inverted(), l.pixels());
          });
      StructType schema = new StructType().add("path", DataTypes.StringType, false)
          .add("inverted", DataTypes.BooleanType, false)
          .add(SparkScorer.INPUT, DataTypes.createArrayType(DataTypes.FloatType, false), false);
      return spark.createDataFrame(decoded, schema);
    }

    private Dataset<Row> rows(LabeledImages images, int partitions) {
      List<Row> rows = new ArrayList<>();
      float[] px = new float[images.pixelsPerImage()];
      for (int i = 0; i < images.size(); i++) {
        images.copyNormalizedImage(i, px, 0);
        rows.add(RowFactory.create(i, (int) images.label(i), px.clone()));
      }
      StructType schema = new StructType().add("index", DataTypes.IntegerType, false)
          .add("label", DataTypes.IntegerType, false)
          .add(SparkScorer.INPUT, DataTypes.createArrayType(DataTypes.FloatType, false), false);
      JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      return spark.createDataFrame(sc.parallelize(rows, partitions), schema);
    }
  }

  private static boolean hasParquet(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.anyMatch(p -> p.getFileName().toString().endsWith(".parquet"));
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
