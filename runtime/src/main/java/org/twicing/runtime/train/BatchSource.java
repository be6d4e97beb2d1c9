package org.twicing.runtime.train;

/**
 * Where a {@link Trainer} gets its mini-batches: an endless, deterministic sequence whose position can be saved in a
 * checkpoint and restored. The trainer calls {@link #next()} from one background thread (so the next batch is
 * prepared while the current step runs) and never concurrently with {@link #seek}. Ready-made: {@link ArrayBatches}
 * (data in Java arrays) and {@link IterableBatches} (any Iterable of batches).
 */
public interface BatchSource {
  /**
   * The next batch. Its buffers may be reused by the source once the following call to {@code next()} starts: the
   * trainer copies them into its own native memory before asking again.
   */
  Batch next();

  /** The position of the batch the next call to {@link #next()} returns, as saved in checkpoints. */
  String position();

  /**
   * Moves to {@code position} (a value {@link #position()} or {@link Batch#nextPosition()} returned), so that
   * {@link #next()} continues exactly where the run that saved it stopped; fails naming the position when it is
   * malformed or out of range for this data.
   */
  void seek(String position);

  /** Batches in one pass over the training data, or 0 when the source has no epochs (random windows). */
  default long batchesPerEpoch() {
    return 0;
  }

  /** What the data is and where it came from, for logs. */
  String describe();
}
