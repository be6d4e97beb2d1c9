package org.twicing.dsl.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/** A safetensors file that cannot be read as such; the message names the file and, where known, the tensor. */
public final class SafetensorsFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final String tensor;

  /** A problem with the file as a whole (its header, its size). */
  public SafetensorsFormatException(Path file, String problem) {
    this(file, null, problem, null);
  }

  /** A problem with one tensor's entry or data; {@code tensor} may be null when no tensor is involved. */
  public SafetensorsFormatException(Path file, String tensor, String problem) {
    this(file, tensor, problem, null);
  }

  /** As {@link #SafetensorsFormatException(Path, String, String)}, keeping the lower-level cause. */
  public SafetensorsFormatException(Path file, String tensor, String problem, Throwable cause) {
    super(file + (tensor != null ? ": tensor " + HeaderJson.quote(tensor) : "") + ": " + problem, cause);
    this.file = file;
    this.tensor = tensor;
  }

  /** The file that could not be read. */
  public Path file() {
    return file;
  }

  /** The tensor whose entry or data is at fault, if the problem concerns one tensor. */
  public Optional<String> tensor() {
    return Optional.ofNullable(tensor);
  }
}
