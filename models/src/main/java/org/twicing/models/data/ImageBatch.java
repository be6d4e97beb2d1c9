package org.twicing.models.data;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/**
 * One mini-batch of normalised images [B, 1, rows, cols] as a contiguous float32 array and their labels [B] as
 * int64, with the data-set indices they were taken from. The arrays belong to the batch; do not modify them.
 */
public final class ImageBatch {
  private final float[] images;
  private final long[] labels;
  private final int[] indices;
  private final int rows;
  private final int cols;

  ImageBatch(float[] images, long[] labels, int[] indices, int rows, int cols) {
    this.images = images;
    this.labels = labels;
    this.indices = indices;
    this.rows = rows;
    this.cols = cols;
  }

  /** Number of examples, B (smaller than the batch size only for a final partial batch). */
  public int size() {
    return labels.length;
  }

  /** Normalised pixels, row-major [B, 1, rows, cols]. */
  public float[] images() {
    return images;
  }

  /** Class labels [B]. */
  public long[] labels() {
    return labels;
  }

  /** The data-set index of each example, in batch order. */
  public int[] indices() {
    return indices.clone();
  }

  /** The images' shape, {@code [B, 1, rows, cols]}. */
  public long[] imageShape() {
    return new long[] {labels.length, 1, rows, cols};
  }

  /** The labels' shape, {@code [B]}. */
  public long[] labelShape() {
    return new long[] {labels.length};
  }

  /** The images wrapped (not copied) as a buffer, e.g. for creating an ONNX Runtime tensor. */
  public FloatBuffer imageBuffer() {
    return FloatBuffer.wrap(images);
  }

  /** The labels wrapped (not copied) as a buffer. */
  public LongBuffer labelBuffer() {
    return LongBuffer.wrap(labels);
  }
}
