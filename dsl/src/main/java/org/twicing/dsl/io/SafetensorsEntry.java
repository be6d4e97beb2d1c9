package org.twicing.dsl.io;

import java.util.Arrays;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/** One tensor's header entry in a safetensors file: name, dtype, shape and byte range within the data buffer. */
public final class SafetensorsEntry {
  private final String name;
  private final DType dtype;
  private final long[] shape;
  private final long begin;
  private final long end;

  /** An entry whose data occupies bytes [{@code begin}, {@code end}) of the data buffer. */
  public SafetensorsEntry(String name, DType dtype, long[] shape, long begin, long end) {
    this.name = name;
    this.dtype = dtype;
    this.shape = shape.clone();
    this.begin = begin;
    this.end = end;
  }

  /** The tensor's name (its key in the header). */
  public String name() {
    return name;
  }

  /** The element type. */
  public DType dtype() {
    return dtype;
  }

  /** A copy of the shape. */
  public long[] shape() {
    return shape.clone();
  }

  /** Number of elements the shape holds. */
  public long numel() {
    return Tensor.numel(shape);
  }

  /** Offset of the first data byte, relative to the start of the data buffer (after the header). */
  public long begin() {
    return begin;
  }

  /** Offset one past the last data byte, relative to the start of the data buffer. */
  public long end() {
    return end;
  }

  /** Number of data bytes, {@code end - begin}. */
  public long byteLength() {
    return end - begin;
  }

  @Override
  public String toString() {
    return name + ": " + dtype + Arrays.toString(shape) + " bytes [" + begin + ", " + end + ")";
  }
}
