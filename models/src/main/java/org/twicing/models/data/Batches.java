package org.twicing.models.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * How to cut a {@link LabeledImages} set into mini-batches: batch size, whether and with what seed to shuffle,
 * and whether to drop a final partial batch. Epoch {@code e}'s order is a permutation drawn from a generator
 * seeded by (seed, e) alone, so any position can be reproduced without replaying earlier epochs.
 */
public final class Batches {
  private final LabeledImages data;
  private final int batchSize;
  private final long seed;
  private final boolean shuffle;
  private final boolean dropLast;

  private Batches(Builder b) {
    this.data = b.data;
    this.batchSize = b.batchSize;
    this.seed = b.seed;
    this.shuffle = b.shuffle;
    this.dropLast = b.dropLast;
    if (batchesPerEpoch() == 0) {
      throw new IllegalArgumentException(data.source() + ": " + data.size() + " images make no batch of "
          + batchSize + (dropLast ? " when the partial batch is dropped" : ""));
    }
  }

  /** Starts describing batches over {@code data}: by default size 64, shuffled with seed 0, partial batch kept. */
  public static Builder over(LabeledImages data) {
    return new Builder(Objects.requireNonNull(data, "data"));
  }

  /** Builder for {@link Batches}. */
  public static final class Builder {
    private final LabeledImages data;
    private int batchSize = 64;
    private long seed;
    private boolean shuffle = true;
    private boolean dropLast;

    private Builder(LabeledImages data) {
      this.data = data;
    }

    /** Examples per batch (positive). */
    public Builder batchSize(int size) {
      if (size <= 0) {
        throw new IllegalArgumentException("batch size must be positive, got " + size);
      }
      this.batchSize = size;
      return this;
    }

    /** Seed of the per-epoch shuffles. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Whether to shuffle each epoch (true) or keep data-set order, e.g. for evaluation (false). */
    public Builder shuffle(boolean shuffle) {
      this.shuffle = shuffle;
      return this;
    }

    /** Whether to drop the last batch of an epoch when it would be smaller than the batch size. */
    public Builder dropLast(boolean dropLast) {
      this.dropLast = dropLast;
      return this;
    }

    /** The batching described so far. */
    public Batches build() {
      return new Batches(this);
    }
  }

  /** The data being batched. */
  public LabeledImages data() {
    return data;
  }

  /** Examples per full batch. */
  public int batchSize() {
    return batchSize;
  }

  /** Batches in one epoch: n / B rounded down when dropping the partial batch, else rounded up. */
  public int batchesPerEpoch() {
    return dropLast ? data.size() / batchSize : (data.size() + batchSize - 1) / batchSize;
  }

  /** An endless iterator starting at the first batch of epoch 0. */
  public BatchIterator iterator() {
    return new BatchIterator(this, BatchPosition.START);
  }

  /** An endless iterator starting at {@code position}, typically one saved from an earlier {@link BatchIterator}. */
  public BatchIterator iterator(BatchPosition position) {
    return new BatchIterator(this, position);
  }

  /** The batches of one epoch only, e.g. for a pass over the test set. */
  public Iterable<ImageBatch> epoch(long epoch) {
    return () -> new Iterator<>() {
      private final BatchIterator it = iterator(new BatchPosition(epoch, 0));

      @Override
      public boolean hasNext() {
        return it.position().epoch() == epoch;
      }

      @Override
      public ImageBatch next() {
        if (!hasNext()) {
          throw new NoSuchElementException("epoch " + epoch + " has only " + batchesPerEpoch() + " batches");
        }
        return it.next();
      }
    };
  }

  /** The order in which epoch {@code epoch} visits the data: a permutation of 0..n-1 (identity if unshuffled). */
  public int[] epochOrder(long epoch) {
    int n = data.size();
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    if (shuffle) {
      SplittableRandom rng = new SplittableRandom(mix(seed, epoch));
      for (int i = n - 1; i > 0; i--) { // Fisher-Yates
        int j = rng.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    return order;
  }

  /** A well-mixed generator seed for (seed, index), so that neighbouring seeds or epochs are unrelated. */
  static long mix(long seed, long index) {
    return murmur(seed ^ murmur(index + 0x9E3779B97F4A7C15L));
  }

  private static long murmur(long z) {
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return z ^ (z >>> 33);
  }
}
