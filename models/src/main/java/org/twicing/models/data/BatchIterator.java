package org.twicing.models.data;

/**
 * Endless source of mini-batches that moves on to the next epoch (with a fresh shuffle) when one is used up.
 * {@link #position()} names the next batch; restoring it through {@link Batches#iterator(BatchPosition)}
 * continues with exactly the batches this iterator would have produced.
 */
public final class BatchIterator {
  private final Batches batches;
  private long epoch;
  private int batch;
  private int[] order;
  private long orderEpoch = -1;

  BatchIterator(Batches batches, BatchPosition start) {
    this.batches = batches;
    if (start.batch() >= batches.batchesPerEpoch()) {
      throw new IllegalArgumentException("cannot resume at " + start + ": an epoch has only "
          + batches.batchesPerEpoch() + " batches of " + batches.batchSize() + " (was the data or batch size"
          + " changed?)");
    }
    this.epoch = start.epoch();
    this.batch = start.batch();
  }

  /** The position of the batch the next call to {@link #next()} returns. */
  public BatchPosition position() {
    return new BatchPosition(epoch, batch);
  }

  /** The next batch: normalised images [B, 1, rows, cols] and labels [B]. */
  public ImageBatch next() {
    if (orderEpoch != epoch) {
      order = batches.epochOrder(epoch);
      orderEpoch = epoch;
    }
    LabeledImages data = batches.data();
    int from = batch * batches.batchSize();
    int size = Math.min(batches.batchSize(), data.size() - from);
    int pixels = data.pixelsPerImage();
    float[] images = new float[size * pixels];
    long[] labels = new long[size];
    int[] indices = new int[size];
    for (int k = 0; k < size; k++) {
      int i = order[from + k];
      indices[k] = i;
      labels[k] = data.label(i);
      data.copyNormalizedImage(i, images, k * pixels);
    }
    if (++batch == batches.batchesPerEpoch()) {
      batch = 0;
      epoch++;
    }
    return new ImageBatch(images, labels, indices, data.rows(), data.cols());
  }
}
