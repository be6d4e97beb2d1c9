package org.twicing.models.training;

import java.nio.LongBuffer;
import org.twicing.models.data.TextData;
import org.twicing.models.data.TokenBatch;
import org.twicing.runtime.train.Batch;
import org.twicing.runtime.train.BatchSource;

/**
 * Byte-level text as a {@link BatchSource}: random windows of the training split, the windows of step {@code s}
 * depending only on (seed, s); the position is the index of the next batch. An "epoch" is as many tokens as the
 * training split holds.
 */
public final class TextBatches implements BatchSource {
  private final TextData text;
  private final int batchSize;
  private final int context;
  private final long seed;
  private TextData.Windows windows;

  /** Windows of {@code context} tokens, {@code batchSize} per batch, from the training split of {@code text}. */
  public TextBatches(TextData text, int batchSize, int context, long seed) {
    this.text = text;
    this.batchSize = batchSize;
    this.context = context;
    this.seed = seed;
    this.windows = text.windows(TextData.Split.TRAIN, batchSize, context, seed, 0);
  }

  @Override
  public Batch next() {
    long at = windows.step();
    TokenBatch b = windows.next();
    return new Batch(LongBuffer.wrap(b.tokens()), b.shape(), LongBuffer.wrap(b.labels()), b.shape(), b.batchSize(),
        Long.toString(windows.step()), at * tokensPerBatch() / (double) text.size(TextData.Split.TRAIN));
  }

  private long tokensPerBatch() {
    return (long) batchSize * context;
  }

  @Override
  public String position() {
    return Long.toString(windows.step());
  }

  @Override
  public void seek(String position) {
    long step;
    try {
      step = Long.parseLong(position.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("cannot resume " + describe() + " at data position '" + position
          + "': expected a batch number", e);
    }
    windows = text.windows(TextData.Split.TRAIN, batchSize, context, seed, step);
  }

  /** Batches that hold as many tokens as the training split (at least 1). */
  @Override
  public long batchesPerEpoch() {
    return Math.max(1, (text.size(TextData.Split.TRAIN) + tokensPerBatch() - 1) / tokensPerBatch());
  }

  @Override
  public String describe() {
    return text.source() + " (random windows of " + context + " bytes, " + batchSize + " per batch)";
  }
}
