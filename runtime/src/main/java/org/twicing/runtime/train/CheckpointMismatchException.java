package org.twicing.runtime.train;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A checkpoint that does not fit the model (or training setup) it is loaded for, or holds non-finite values; the
 * message names the file and, where one tensor is at fault, the tensor.
 */
public final class CheckpointMismatchException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final String tensor;

  /** A mismatch in {@code file}, first noticed at {@code tensor} (null when no tensor is involved). */
  public CheckpointMismatchException(Path file, String tensor, String message) {
    super(message);
    this.file = file;
    this.tensor = tensor;
  }

  /** The checkpoint file. */
  public Path file() {
    return file;
  }

  /** The first tensor found at fault, if any. */
  public Optional<String> tensor() {
    return Optional.ofNullable(tensor);
  }
}
