package org.twicing.runtime.train;

import java.nio.Buffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * A data set held in Java arrays as a {@link BatchSource}: examples laid out one after another (inputs as float32
 * or int64, labels as int64), cut into mini-batches, each epoch in a fresh order drawn from a seed (or in array
 * order). Positions are {@code EPOCH:BATCH}; resuming from one repeats exactly the batches the saved run would have
 * seen. The arrays are read, not copied: do not change them while training.
 *
 * <pre>{@code
 * BatchSource data = ArrayBatches.floats(pixels, 1, 28, 28)   // pixels.length = n * 784
 *     .labels(labels)                                         // n class ids
 *     .batchSize(32).shuffle(7).build();
 * }</pre>
 */
public final class ArrayBatches implements BatchSource {
  private final float[] floatInputs;
  private final long[] longInputs;
  private final long[] exampleShape;
  private final long exampleSize;
  private final long[] labels;
  private final long[] labelShape;
  private final long labelSize;
  private final int examples;
  private final int batchSize;
  private final boolean shuffle;
  private final long seed;
  private final boolean dropLast;
  private final String description;
  private final int batchesPerEpoch;

  private long epoch;
  private int batch;
  private long orderEpoch = -1;
  private int[] order;

  private ArrayBatches(Builder b) {
    this.floatInputs = b.floatInputs;
    this.longInputs = b.longInputs;
    this.exampleShape = b.exampleShape;
    this.exampleSize = product("input example", exampleShape);
    if (b.labels == null) {
      throw new IllegalArgumentException("ArrayBatches needs labels: call labels(long[], long...)");
    }
    this.labels = b.labels;
    this.labelShape = b.labelShape;
    this.labelSize = product("label", labelShape);
    long inputLength = floatInputs != null ? floatInputs.length : longInputs.length;
    if (exampleSize == 0 || inputLength % exampleSize != 0) {
      throw new IllegalArgumentException("the inputs hold " + inputLength + " values, not a whole number of examples"
          + " of shape " + Arrays.toString(exampleShape) + " (" + exampleSize + " values each)");
    }
    long n = inputLength / exampleSize;
    if (n == 0 || n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("ArrayBatches needs between 1 and " + Integer.MAX_VALUE
          + " examples, the inputs hold " + n);
    }
    this.examples = (int) n;
    if (labels.length != n * labelSize) {
      throw new IllegalArgumentException("the labels hold " + labels.length + " values but " + n + " examples with"
          + " label shape " + Arrays.toString(labelShape) + " need " + n * labelSize);
    }
    if (b.batchSize <= 0) {
      throw new IllegalArgumentException("ArrayBatches needs a positive batch size: call batchSize(int), got "
          + b.batchSize);
    }
    this.batchSize = b.batchSize;
    this.dropLast = b.dropLast;
    if (dropLast && batchSize > examples) {
      throw new IllegalArgumentException("batch size " + batchSize + " is larger than the " + examples
          + " examples, and dropLast leaves no batch");
    }
    this.shuffle = b.shuffle;
    this.seed = b.seed;
    this.batchesPerEpoch = dropLast ? examples / batchSize : (examples + batchSize - 1) / batchSize;
    this.description = b.description != null ? b.description
        : examples + " in-memory examples of shape " + Arrays.toString(exampleShape) + " (batches of " + batchSize
            + (shuffle ? ", shuffled with seed " + seed : ", in order") + ")";
  }

  /** Starts a source whose examples are float32 inputs of shape {@code exampleShape} (without the batch axis). */
  public static Builder floats(float[] inputs, long... exampleShape) {
    Builder b = new Builder(exampleShape);
    b.floatInputs = Objects.requireNonNull(inputs, "inputs");
    return b;
  }

  /** Starts a source whose examples are int64 inputs (token ids) of shape {@code exampleShape}. */
  public static Builder longs(long[] inputs, long... exampleShape) {
    Builder b = new Builder(exampleShape);
    b.longInputs = Objects.requireNonNull(inputs, "inputs");
    return b;
  }

  @Override
  public Batch next() {
    int[] ord = order(epoch);
    int from = batch * batchSize;
    int size = Math.min(batchSize, examples - from);
    Buffer input;
    if (floatInputs != null) {
      float[] in = new float[Math.toIntExact(size * exampleSize)];
      for (int i = 0; i < size; i++) {
        System.arraycopy(floatInputs, (int) (ord[from + i] * exampleSize), in, (int) (i * exampleSize),
            (int) exampleSize);
      }
      input = FloatBuffer.wrap(in);
    } else {
      long[] in = new long[Math.toIntExact(size * exampleSize)];
      for (int i = 0; i < size; i++) {
        System.arraycopy(longInputs, (int) (ord[from + i] * exampleSize), in, (int) (i * exampleSize),
            (int) exampleSize);
      }
      input = LongBuffer.wrap(in);
    }
    long[] lab = new long[Math.toIntExact(size * labelSize)];
    for (int i = 0; i < size; i++) {
      System.arraycopy(labels, (int) (ord[from + i] * labelSize), lab, (int) (i * labelSize), (int) labelSize);
    }
    double at = epoch + batch / (double) batchesPerEpoch;
    batch++;
    if (batch == batchesPerEpoch) {
      epoch++;
      batch = 0;
    }
    return new Batch(input, withBatch(size, exampleShape), LongBuffer.wrap(lab), withBatch(size, labelShape), size,
        position(), at);
  }

  @Override
  public String position() {
    return epoch + ":" + batch;
  }

  @Override
  public void seek(String position) {
    long[] p = parsePosition(position, describe());
    if (p[1] >= batchesPerEpoch) {
      throw new IllegalArgumentException("cannot resume " + describe() + " at data position '" + position
          + "': an epoch has only " + batchesPerEpoch + " batches (0.." + (batchesPerEpoch - 1) + ")");
    }
    epoch = p[0];
    batch = (int) p[1];
  }

  @Override
  public long batchesPerEpoch() {
    return batchesPerEpoch;
  }

  @Override
  public String describe() {
    return description;
  }

  /** The number of examples. */
  public int examples() {
    return examples;
  }

  /** The order in which epoch {@code e} visits the examples: a permutation of 0..n-1 (identity if unshuffled). */
  public int[] epochOrder(long e) {
    return order(e).clone();
  }

  private int[] order(long e) {
    if (e != orderEpoch) {
      int[] o = new int[examples];
      for (int i = 0; i < examples; i++) {
        o[i] = i;
      }
      if (shuffle) {
        // One generator per epoch, so seeking to any epoch needs no replay of the earlier ones.
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + e);
        for (int i = examples - 1; i > 0; i--) {
          int j = rng.nextInt(i + 1);
          int t = o[i];
          o[i] = o[j];
          o[j] = t;
        }
      }
      order = o;
      orderEpoch = e;
    }
    return order;
  }

  /** Parses {@code EPOCH:BATCH} (both non-negative), failing with a message naming the source and the text. */
  static long[] parsePosition(String position, String source) {
    int colon = position == null ? -1 : position.indexOf(':');
    try {
      if (colon < 0) {
        throw new NumberFormatException();
      }
      long e = Long.parseLong(position.substring(0, colon));
      long b = Long.parseLong(position.substring(colon + 1));
      if (e < 0 || b < 0) {
        throw new NumberFormatException();
      }
      return new long[] {e, b};
    } catch (NumberFormatException ex) {
      throw new IllegalArgumentException("cannot resume " + source + " at data position '" + position
          + "': expected EPOCH:BATCH with non-negative numbers, such as 3:120");
    }
  }

  private static long[] withBatch(int size, long[] shape) {
    long[] s = new long[shape.length + 1];
    s[0] = size;
    System.arraycopy(shape, 0, s, 1, shape.length);
    return s;
  }

  private static long product(String what, long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException(what + " shape " + Arrays.toString(shape)
            + " must have positive dimensions");
      }
      n *= d;
    }
    return n;
  }

  /** Builds {@link ArrayBatches}; labels and batch size are required. */
  public static final class Builder {
    private float[] floatInputs;
    private long[] longInputs;
    private final long[] exampleShape;
    private long[] labels;
    private long[] labelShape = new long[0];
    private int batchSize;
    private boolean shuffle = true;
    private long seed;
    private boolean dropLast;
    private String description;

    private Builder(long[] exampleShape) {
      this.exampleShape = Objects.requireNonNull(exampleShape, "exampleShape").clone();
    }

    /**
     * The int64 labels, one block of shape {@code labelShape} per example: nothing for a class id per example
     * (classification), {@code T} for one per token (language models; -100 marks positions to ignore).
     */
    public Builder labels(long[] labels, long... labelShape) {
      this.labels = Objects.requireNonNull(labels, "labels");
      this.labelShape = Objects.requireNonNull(labelShape, "labelShape").clone();
      return this;
    }

    /** Examples per batch (required); the last batch of an epoch is smaller unless {@link #dropLast}. */
    public Builder batchSize(int n) {
      this.batchSize = n;
      return this;
    }

    /** Shuffles every epoch with a generator seeded by {@code seed} and the epoch (the default, seed 0). */
    public Builder shuffle(long seed) {
      this.shuffle = true;
      this.seed = seed;
      return this;
    }

    /** Visits the examples in array order every epoch. */
    public Builder inOrder() {
      this.shuffle = false;
      return this;
    }

    /** Whether to drop an epoch's final partial batch, so every step has the same shape (default false). */
    public Builder dropLast(boolean on) {
      this.dropLast = on;
      return this;
    }

    /** What the data is, for logs (default: counts and shapes). */
    public Builder describe(String text) {
      this.description = Objects.requireNonNull(text, "text");
      return this;
    }

    /** The source, positioned at the first batch of epoch 0. */
    public ArrayBatches build() {
      return new ArrayBatches(this);
    }
  }
}
