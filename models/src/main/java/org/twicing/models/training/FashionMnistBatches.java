package org.twicing.models.training;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import org.twicing.models.data.BatchIterator;
import org.twicing.models.data.BatchPosition;
import org.twicing.models.data.Batches;
import org.twicing.models.data.ImageBatch;
import org.twicing.models.data.LabeledImages;
import org.twicing.runtime.train.Batch;
import org.twicing.runtime.train.BatchSource;

/**
 * Fashion-MNIST (or any {@link LabeledImages}) as a {@link BatchSource}: shuffled epochs of full batches (the last
 * partial batch of an epoch is dropped so every step has the same shape), positions {@code EPOCH:BATCH}.
 */
public final class FashionMnistBatches implements BatchSource {
  private final Batches batches;
  private BatchIterator it;

  /** Batches of {@code batchSize} over {@code images}, shuffled per epoch with {@code seed}. */
  public FashionMnistBatches(LabeledImages images, int batchSize, long seed) {
    this.batches = Batches.over(images).batchSize(batchSize).seed(seed).shuffle(true).dropLast(true).build();
    this.it = batches.iterator();
  }

  @Override
  public Batch next() {
    BatchPosition at = it.position();
    ImageBatch b = it.next();
    double epoch = at.epoch() + at.batch() / (double) batches.batchesPerEpoch();
    return new Batch(FloatBuffer.wrap(b.images()), b.imageShape(), LongBuffer.wrap(b.labels()), b.labelShape(),
        b.size(), it.position().format(), epoch);
  }

  @Override
  public String position() {
    return it.position().format();
  }

  @Override
  public void seek(String position) {
    BatchPosition p;
    try {
      p = BatchPosition.parse(position);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("cannot resume " + describe() + " at data position '" + position + "': "
          + e.getMessage(), e);
    }
    it = batches.iterator(p);
  }

  @Override
  public long batchesPerEpoch() {
    return batches.batchesPerEpoch();
  }

  @Override
  public String describe() {
    return batches.data().source() + " (batches of " + batches.batchSize() + ")";
  }
}
