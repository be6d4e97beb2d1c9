package org.twicing.models.data;

import java.nio.LongBuffer;

/**
 * One batch of byte-level language-model windows: input tokens [B, T] and next-token labels [B, T] (the same
 * window shifted by one byte), both int64 byte values 0..255 in row-major arrays owned by the batch.
 */
public final class TokenBatch {
  private final long[] tokens;
  private final long[] labels;
  private final int[] starts;
  private final int context;

  TokenBatch(long[] tokens, long[] labels, int[] starts, int context) {
    this.tokens = tokens;
    this.labels = labels;
    this.starts = starts;
    this.context = context;
  }

  /** Number of windows, B. */
  public int batchSize() {
    return starts.length;
  }

  /** Window length, T. */
  public int context() {
    return context;
  }

  /** Input tokens, row-major [B, T]. */
  public long[] tokens() {
    return tokens;
  }

  /** Next-token labels, row-major [B, T]: {@code labels[b][t] == tokens[b][t + 1]} within the window. */
  public long[] labels() {
    return labels;
  }

  /** Offset of each window within its split's bytes. */
  public int[] starts() {
    return starts.clone();
  }

  /** The shape of both arrays, {@code [B, T]}. */
  public long[] shape() {
    return new long[] {starts.length, context};
  }

  /** The tokens wrapped (not copied) as a buffer, e.g. for creating an ONNX Runtime tensor. */
  public LongBuffer tokenBuffer() {
    return LongBuffer.wrap(tokens);
  }

  /** The labels wrapped (not copied) as a buffer. */
  public LongBuffer labelBuffer() {
    return LongBuffer.wrap(labels);
  }
}
