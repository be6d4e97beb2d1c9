package org.twicing.dsl.nn;

import java.util.Arrays;

/**
 * A declared parameter: its full hierarchical name ({@code blocks.0.attn.qkv.weight}), shape, initialiser and
 * whether weight decay applies to it.
 */
public record Param(String name, long[] shape, Init init, boolean decay) {
  /** Number of scalars. */
  public long numel() {
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    return n;
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }
}
