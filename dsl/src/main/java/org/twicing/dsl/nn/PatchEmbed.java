package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import org.twicing.dsl.ir.Value;

/** Non-overlapping patch embedding as timm's: {@code proj} is a Conv2d with kernel = stride = patch. */
public final class PatchEmbed extends Module {
  private final long patch;
  private final long dim;
  private final Conv proj;

  /** The Conv2d holding {@code proj.weight} [dim, channels, patch, patch] and {@code proj.bias}. */
  static final class Conv extends Module {
    Conv(long channels, long dim, long patch) {
      long fanIn = channels * patch * patch;
      param("weight", Init.torchDefault(fanIn), dim, channels, patch, patch);
      param("bias", Init.torchDefault(fanIn), false, dim);
    }
  }

  /** Patches of {@code patch}² pixels from {@code channels} channels to {@code dim} features. */
  public PatchEmbed(long channels, long dim, long patch) {
    this.patch = patch;
    this.dim = dim;
    this.proj = child("proj", new Conv(channels, dim, patch));
  }

  /** [B, C, H, W] pixels to [B, N, D] patch tokens. */
  public Value forward(Forward f, Value pixels) {
    try (var s = f.scope(proj)) {
      Value y = conv2d(pixels, f.param(proj.p("weight")), f.param(proj.p("bias")), new long[] {patch, patch},
          new long[] {0, 0, 0, 0});
      return transpose(reshape(y, 0, dim, -1), 0, 2, 1);
    }
  }
}
