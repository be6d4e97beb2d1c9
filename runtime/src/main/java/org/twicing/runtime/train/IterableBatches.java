package org.twicing.runtime.train;

import java.util.Collection;
import java.util.Iterator;
import java.util.Objects;

/**
 * Any {@link Iterable} of batches as a {@link BatchSource}: one pass over it is an epoch, and training goes round
 * again when it ends. Positions are {@code PASS:INDEX}; resuming starts a fresh iteration and skips INDEX batches,
 * so the Iterable must give the same batches in the same order every time it is iterated (a List, or a class that
 * reads files) — not a one-shot stream. The batches' own {@code nextPosition} and {@code epoch} are replaced, so
 * {@link Batch#ofFloats(float[], long[], long[], long[])} and {@link Batch#ofLongs(long[], long[], long[], long[])}
 * are enough to make them.
 */
public final class IterableBatches implements BatchSource {
  private final Iterable<Batch> batches;
  private final String description;
  private final long size;
  private Iterator<Batch> it;
  private long pass;
  private long index;

  private IterableBatches(Iterable<Batch> batches, String description) {
    this.batches = Objects.requireNonNull(batches, "batches");
    this.description = Objects.requireNonNull(description, "description");
    this.size = batches instanceof Collection<?> c ? c.size() : 0;
  }

  /** Batches from {@code batches}, repeated pass after pass. */
  public static IterableBatches of(Iterable<Batch> batches) {
    return new IterableBatches(batches, batches instanceof Collection<?> c
        ? c.size() + " batches from a " + batches.getClass().getSimpleName() : "batches from an Iterable");
  }

  /** Batches from {@code batches}, described as {@code description} in logs. */
  public static IterableBatches of(Iterable<Batch> batches, String description) {
    return new IterableBatches(batches, description);
  }

  @Override
  public Batch next() {
    if (it == null) {
      it = batches.iterator();
    }
    if (!it.hasNext()) {
      if (index == 0) {
        throw new IllegalStateException(describe() + " gave no batches: an Iterable for training must hold at least"
            + " one, and every iteration must give the same ones");
      }
      pass++;
      index = 0;
      it = batches.iterator();
      if (!it.hasNext()) {
        throw new IllegalStateException(describe() + " gave no batches on pass " + pass + " after giving some on"
            + " the pass before: every iteration of the Iterable must give the same batches (a one-shot stream"
            + " cannot be trained on for more than one pass)");
      }
    }
    Batch b = Objects.requireNonNull(it.next(), () -> describe() + " gave a null batch at " + position());
    double at = pass + (size > 0 ? index / (double) size : 0.0);
    index++;
    return new Batch(b.input(), b.inputShape(), b.labels(), b.labelShape(), b.examples(), position(), at);
  }

  @Override
  public String position() {
    return pass + ":" + index;
  }

  @Override
  public void seek(String position) {
    long[] p = ArrayBatches.parsePosition(position, describe());
    Iterator<Batch> fresh = batches.iterator();
    for (long i = 0; i < p[1]; i++) {
      if (!fresh.hasNext()) {
        throw new IllegalArgumentException("cannot resume " + describe() + " at data position '" + position
            + "': a pass has only " + i + " batches");
      }
      fresh.next();
    }
    it = fresh;
    pass = p[0];
    index = p[1];
  }

  /** The Iterable's size when it is a {@link Collection}; 0 (no known epoch length) otherwise. */
  @Override
  public long batchesPerEpoch() {
    return size;
  }

  @Override
  public String describe() {
    return description;
  }
}
