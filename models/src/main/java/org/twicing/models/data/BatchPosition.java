package org.twicing.models.data;

/**
 * Where a {@link BatchIterator} stands: the epoch and the index of the next batch within it. Saving it with a
 * checkpoint and passing it back to {@link Batches#iterator(BatchPosition)} resumes with exactly the same batches.
 */
public record BatchPosition(long epoch, int batch) {
  /** The position before the first batch of the first epoch. */
  public static final BatchPosition START = new BatchPosition(0, 0);

  /** Validates that both coordinates are non-negative. */
  public BatchPosition {
    if (epoch < 0 || batch < 0) {
      throw new IllegalArgumentException("batch position needs epoch >= 0 and batch >= 0, got epoch " + epoch
          + ", batch " + batch);
    }
  }

  /** The position as {@code "EPOCH:BATCH"}, for string-valued checkpoint metadata. */
  public String format() {
    return epoch + ":" + batch;
  }

  /** Parses {@link #format()}'s output, failing with a message that quotes the text. */
  public static BatchPosition parse(String text) {
    int colon = text.indexOf(':');
    try {
      if (colon < 0) {
        throw new NumberFormatException();
      }
      return new BatchPosition(Long.parseLong(text.substring(0, colon)), Integer.parseInt(text.substring(colon + 1)));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("expected a batch position EPOCH:BATCH such as 3:120, got '" + text + "'");
    }
  }

  @Override
  public String toString() {
    return "epoch " + epoch + ", batch " + batch;
  }
}
