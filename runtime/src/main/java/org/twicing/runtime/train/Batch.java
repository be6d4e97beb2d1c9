package org.twicing.runtime.train;

import java.nio.Buffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One mini-batch as host data: the model input (a {@link FloatBuffer} for float32 inputs such as pixels, a
 * {@link LongBuffer} for int64 token ids) and int64 labels, each over its remaining elements (heap or direct
 * buffers), with their shapes, the number of examples, the source position after this batch and the (fractional)
 * epoch at its start.
 */
public record Batch(Buffer input, long[] inputShape, LongBuffer labels, long[] labelShape, int examples,
    String nextPosition, double epoch) {
  /** Validates that every buffer holds exactly as many elements as its shape needs. */
  public Batch {
    Objects.requireNonNull(input, "input");
    Objects.requireNonNull(labels, "labels");
    Objects.requireNonNull(nextPosition, "nextPosition");
    if (!(input instanceof FloatBuffer) && !(input instanceof LongBuffer)) {
      throw new IllegalArgumentException("batch input must be a FloatBuffer (float32) or a LongBuffer (int64), got "
          + input.getClass().getSimpleName());
    }
    check("input", input, inputShape);
    check("labels", labels, labelShape);
    if (examples <= 0) {
      throw new IllegalArgumentException("a batch needs at least one example, got " + examples);
    }
    inputShape = inputShape.clone();
    labelShape = labelShape.clone();
  }

  /**
   * A batch of float32 inputs for a source that sets positions itself ({@link IterableBatches}): the number of
   * examples is {@code inputShape[0]}.
   */
  public static Batch ofFloats(float[] input, long[] inputShape, long[] labels, long[] labelShape) {
    return ofFloats(input, inputShape, labels, labelShape, leading(inputShape), "", 0.0);
  }

  /** A batch of int64 inputs (token ids) for a source that sets positions itself; examples: {@code inputShape[0]}. */
  public static Batch ofLongs(long[] input, long[] inputShape, long[] labels, long[] labelShape) {
    return ofLongs(input, inputShape, labels, labelShape, leading(inputShape), "", 0.0);
  }

  private static int leading(long[] inputShape) {
    if (inputShape.length == 0) {
      throw new IllegalArgumentException("a batch input needs a leading batch axis, got a scalar shape []");
    }
    return Math.toIntExact(inputShape[0]);
  }

  /** A batch of float32 inputs (images). */
  public static Batch ofFloats(float[] input, long[] inputShape, long[] labels, long[] labelShape, int examples,
      String nextPosition, double epoch) {
    return new Batch(FloatBuffer.wrap(input), inputShape, LongBuffer.wrap(labels), labelShape, examples,
        nextPosition, epoch);
  }

  /** A batch of int64 inputs (token ids). */
  public static Batch ofLongs(long[] input, long[] inputShape, long[] labels, long[] labelShape, int examples,
      String nextPosition, double epoch) {
    return new Batch(LongBuffer.wrap(input), inputShape, LongBuffer.wrap(labels), labelShape, examples,
        nextPosition, epoch);
  }

  @Override
  public long[] inputShape() {
    return inputShape.clone();
  }

  @Override
  public long[] labelShape() {
    return labelShape.clone();
  }

  private static void check(String what, Buffer b, long[] shape) {
    long n = 1;
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("batch " + what + " shape " + Arrays.toString(shape)
            + " has a negative dimension");
      }
      n *= s;
    }
    if (b.remaining() != n) {
      throw new IllegalArgumentException("batch " + what + " shape " + Arrays.toString(shape) + " needs " + n
          + " elements, its buffer has " + b.remaining());
    }
  }

  @Override
  public String toString() {
    return "Batch(" + examples + " examples, input " + Arrays.toString(inputShape) + ", next " + nextPosition + ")";
  }
}
