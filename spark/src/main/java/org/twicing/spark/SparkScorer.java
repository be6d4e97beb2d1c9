package org.twicing.spark;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorType;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;
import org.twicing.runtime.train.InferenceRunner;

/**
 * Distributed batch inference of an ONNX classifier over a Spark {@link Dataset}: adds a {@code logits} column
 * (array&lt;float&gt;, the model's logits for the row) and a {@code prediction} column (the argmax over the last
 * axis: an int for one logit vector per row, an array&lt;int&gt; for one per position, e.g. a language model).
 *
 * <p>The model bytes are broadcast once; every executor JVM keeps one ONNX Runtime session per model
 * ({@link ExecutorSessions}), shared by its concurrent tasks; rows are scored in batches of {@link #batchSize}
 * inside each partition ({@code mapPartitions}). The input column holds one example per row, flattened in
 * row-major order: array&lt;float&gt; or array&lt;double&gt; for float inputs (normalised pixels), array&lt;int&gt;
 * or array&lt;bigint&gt; for token ids. The results equal single-process scoring with the same model bytes.
 *
 * <pre>{@code
 * try (SparkScorer s = SparkScorer.forRun(spark, Path.of("runs/vit"))) {
 *   Dataset<Row> scored = s.score(images);  // images has an "image" column of 784 floats
 * }
 * }</pre>
 */
public final class SparkScorer implements AutoCloseable {
  /** The default input column. */
  public static final String INPUT = "image";
  /** The added logits column. */
  public static final String LOGITS = "logits";
  /** The added prediction column. */
  public static final String PREDICTION = "prediction";

  private final ModelRef model;
  private final Spec spec;

  /** What each task needs besides the model: input name, per-example shape and dtype, column, batch size. */
  private record Spec(String inputName, long[] exampleShape, boolean floatInput, boolean perPosition, String column,
      int batchSize)
      implements Serializable {
    long exampleSize() {
      long n = 1;
      for (long d : exampleShape) {
        n *= d;
      }
      return n;
    }
  }

  private SparkScorer(ModelRef model, Spec spec) {
    this.model = model;
    this.spec = spec;
  }

  /** A scorer for a trained run (directory, checkpoint or model.onnx), with the model as {@code twicing eval} builds it. */
  public static SparkScorer forRun(SparkSession spark, Path run) throws IOException {
    return forModel(spark, RunModel.open(run).bytes());
  }

  /**
   * A scorer for any ONNX classifier with one input (batch axis first, other axes fixed; float32 or int64) and a
   * {@code logits} output whose last axis holds the classes.
   */
  public static SparkScorer forModel(SparkSession spark, byte[] onnx) {
    String inputName;
    TensorType in;
    TensorType out;
    try (ModelSession s = ModelSession.open(onnx, SessionOptionsSpec.builder().intraOpThreads(1).build())) {
      if (s.inputs().size() != 1 || !s.outputs().containsKey(InferenceRunner.LOGITS)) {
        throw new IllegalArgumentException("SparkScorer needs a model with one input and a '"
            + InferenceRunner.LOGITS + "' output; this one has inputs " + s.inputs().keySet() + " and outputs "
            + s.outputs().keySet());
      }
      Map.Entry<String, TensorType> e = s.inputs().entrySet().iterator().next();
      inputName = e.getKey();
      in = e.getValue();
      out = s.output(InferenceRunner.LOGITS);
    }
    if (in.rank() < 1 || !in.shape().slice(1, in.rank()).isFixed()) {
      throw new IllegalArgumentException("input '" + inputName + "' has type " + in + "; SparkScorer needs a "
          + "batch axis followed by fixed axes");
    }
    boolean floats = in.dtype() == DType.FLOAT32;
    if (!floats && in.dtype() != DType.INT64) {
      throw new IllegalArgumentException("input '" + inputName + "' is " + in.dtype() + "; SparkScorer feeds "
          + "float32 or int64 inputs");
    }
    long[] shape = in.shape().slice(1, in.rank()).sizes();
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    ModelRef ref = ModelRef.broadcast(sc, onnx, "cpu", 1);
    return new SparkScorer(ref, new Spec(inputName, shape, floats, out.rank() > 2, INPUT, 256));
  }

  /** The same scorer reading column {@code name} (default {@value #INPUT}). */
  public SparkScorer inputColumn(String name) {
    return new SparkScorer(model, new Spec(spec.inputName(), spec.exampleShape(), spec.floatInput(), spec.perPosition(), name,
        spec.batchSize()));
  }

  /** The same scorer running {@code rows} rows per ONNX Runtime call inside a partition (default 256). */
  public SparkScorer batchSize(int rows) {
    if (rows <= 0) {
      throw new IllegalArgumentException("batch size must be positive, got " + rows);
    }
    return new SparkScorer(model, new Spec(spec.inputName(), spec.exampleShape(), spec.floatInput(), spec.perPosition(), spec.column(),
        rows));
  }

  /** The rows per ONNX Runtime call. */
  public int batchSize() {
    return spec.batchSize();
  }

  /** The broadcast model (its hash identifies the executor sessions). */
  public ModelRef model() {
    return model;
  }

  /** {@code rows} with {@value #LOGITS} and {@value #PREDICTION} columns added (lazily, as any transformation). */
  public Dataset<Row> score(Dataset<Row> rows) {
    StructType in = rows.schema();
    int col;
    try {
      col = in.fieldIndex(spec.column());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the data set has no column '" + spec.column() + "' to score; its columns "
          + "are " + Arrays.toString(in.fieldNames()), e);
    }
    DataType t = in.fields()[col].dataType();
    if (!(t instanceof ArrayType a) || !(spec.floatInput()
        ? a.elementType().equals(DataTypes.FloatType) || a.elementType().equals(DataTypes.DoubleType)
        : a.elementType().equals(DataTypes.IntegerType) || a.elementType().equals(DataTypes.LongType))) {
      throw new IllegalArgumentException("column '" + spec.column() + "' is " + t.simpleString() + "; the model's "
          + "input '" + spec.inputName() + "' needs " + (spec.floatInput() ? "array<float> or array<double>"
          : "array<int> or array<bigint>") + " of " + spec.exampleSize() + " values per row");
    }
    boolean perPosition = spec.perPosition();
    StructType out = in.add(new StructField(LOGITS, DataTypes.createArrayType(DataTypes.FloatType, false), false,
        Metadata.empty()))
        .add(new StructField(PREDICTION, perPosition ? DataTypes.createArrayType(DataTypes.IntegerType, false)
            : DataTypes.IntegerType, false, Metadata.empty()));
    ModelRef m = model;
    Spec s = spec;
    boolean doubles = ((ArrayType) t).elementType().equals(DataTypes.DoubleType)
        || ((ArrayType) t).elementType().equals(DataTypes.LongType);
    MapPartitionsFunction<Row, Row> f = it -> new Batches(it, m, s, col, doubles, perPosition);
    return rows.mapPartitions(f, Encoders.row(out));
  }

  /** Destroys the model's broadcast; the scorer cannot be used after. */
  @Override
  public void close() {
    model.destroy();
  }

  /** Scores a partition lazily, {@code batchSize} rows at a time, through the executor's shared session. */
  private static final class Batches implements Iterator<Row> {
    private final Iterator<Row> in;
    private final ModelRef model;
    private final Spec spec;
    private final int col;
    private final boolean wide;
    private final boolean perPosition;
    private final List<Row> pending = new ArrayList<>();
    private final List<Row> ready = new ArrayList<>();
    private int next;

    Batches(Iterator<Row> in, ModelRef model, Spec spec, int col, boolean wide, boolean perPosition) {
      this.in = in;
      this.model = model;
      this.spec = spec;
      this.col = col;
      this.wide = wide;
      this.perPosition = perPosition;
    }

    @Override
    public boolean hasNext() {
      if (next < ready.size()) {
        return true;
      }
      ready.clear();
      next = 0;
      pending.clear();
      while (pending.size() < spec.batchSize() && in.hasNext()) {
        pending.add(in.next());
      }
      if (pending.isEmpty()) {
        return false;
      }
      scoreBatch();
      return true;
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return ready.get(next++);
    }

    private void scoreBatch() {
      int b = pending.size();
      int per = Math.toIntExact(spec.exampleSize());
      long[] shape = new long[spec.exampleShape().length + 1];
      shape[0] = b;
      System.arraycopy(spec.exampleShape(), 0, shape, 1, spec.exampleShape().length);
      ByteBuffer buf = ByteBuffer.allocateDirect(b * per * (spec.floatInput() ? 4 : 8)).order(ByteOrder.nativeOrder());
      for (Row r : pending) {
        List<Object> values = r.getList(col);
        if (values.size() != per) {
          throw new IllegalArgumentException("row " + r + ": column '" + spec.column() + "' holds " + values.size()
              + " values; the model's input '" + spec.inputName() + "' needs " + per + " per example (shape "
              + Arrays.toString(spec.exampleShape()) + ")");
        }
        for (Object v : values) {
          if (v == null) {
            throw new IllegalArgumentException("row " + r + ": column '" + spec.column() + "' holds a null value");
          }
          if (spec.floatInput()) {
            buf.putFloat(wide ? (float) ((Double) v).doubleValue() : (Float) v);
          } else {
            buf.putLong(wide ? (Long) v : (Integer) v);
          }
        }
      }
      buf.flip();
      ModelSession session = ExecutorSessions.get(model);
      float[] logits;
      try (OnnxTensor t = spec.floatInput() ? Tensors.fromBuffer(buf.asFloatBuffer(), shape)
          : Tensors.fromBuffer(buf.asLongBuffer(), shape);
          Results r = session.run(Map.of(spec.inputName(), t), List.of(InferenceRunner.LOGITS))) {
        logits = r.floats(InferenceRunner.LOGITS);
        long[] ls = r.shape(InferenceRunner.LOGITS);
        int classes = Math.toIntExact(ls[ls.length - 1]);
        int perRow = logits.length / b;
        for (int i = 0; i < b; i++) {
          Row src = pending.get(i);
          float[] mine = Arrays.copyOfRange(logits, i * perRow, (i + 1) * perRow);
          Object[] vals = new Object[src.length() + 2];
          for (int k = 0; k < src.length(); k++) {
            vals[k] = src.get(k);
          }
          vals[src.length()] = mine;
          int positions = perRow / classes;
          if (perPosition) {
            int[] p = new int[positions];
            for (int q = 0; q < positions; q++) {
              p[q] = argmax(mine, q * classes, classes);
            }
            vals[src.length() + 1] = p;
          } else {
            vals[src.length() + 1] = argmax(mine, 0, classes);
          }
          ready.add(RowFactory.create(vals));
        }
      }
    }
  }

  /** The index of the largest of {@code n} values from {@code from} (the first on ties, as single-process eval). */
  static int argmax(float[] v, int from, int n) {
    int best = 0;
    for (int k = 1; k < n; k++) {
      if (v[from + k] > v[from + best]) {
        best = k;
      }
    }
    return best;
  }
}
