package org.twicing.runtime.train;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.SplittableRandom;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.VisionTransformer;

/** A very small ViT on 28x28 grey images and a synthetic, learnable image data set for the trainer tests. */
final class TinyVit {
  private TinyVit() { }

  /** dim 32, depth 2, 2 heads, patch 7 (16 patches), 4 classes, twicing attention, no dropout. */
  static VisionTransformer model(long dim) {
    return new VisionTransformer(VisionTransformer.Config.builder("tiny-vit").imageSize(28).channels(1).patch(7)
        .classes(4).dim(dim).depth(2).heads(2).mlp(2 * dim).attention(AttentionKind.TWICING).build());
  }

  static VisionTransformer model() {
    return model(32);
  }

  /**
   * Synthetic images: class c has a bright 7x7 block in quadrant c plus noise; deterministic in (seed, batch
   * index), so positions are just the batch index. {@code nanAt} (1-based batch number, 0: never) makes that
   * batch's pixels NaN.
   */
  static class Source implements BatchSource {
    private final int batch;
    private final long seed;
    private final long nanAt;
    private long index;

    Source(int batch, long seed, long nanAt) {
      this.batch = batch;
      this.seed = seed;
      this.nanAt = nanAt;
    }

    Source(int batch) {
      this(batch, 1, 0);
    }

    @Override
    public Batch next() {
      Batch b = make(index, batch, seed, nanAt != 0 && index + 1 == nanAt);
      index++;
      return b;
    }

    static Batch make(long index, int batch, long seed, boolean nan) {
      SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + index);
      float[] px = new float[batch * 28 * 28];
      long[] labels = new long[batch];
      for (int b = 0; b < batch; b++) {
        int c = rng.nextInt(4);
        labels[b] = c;
        int r0 = (c / 2) * 14 + 3;
        int c0 = (c % 2) * 14 + 3;
        for (int y = 0; y < 28; y++) {
          for (int x = 0; x < 28; x++) {
            float v = (float) (rng.nextGaussian() * 0.5);
            if (y >= r0 && y < r0 + 7 && x >= c0 && x < c0 + 7) {
              v += 1.5f;
            }
            px[b * 784 + y * 28 + x] = nan ? Float.NaN : v;
          }
        }
      }
      return new Batch(FloatBuffer.wrap(px), new long[] {batch, 1, 28, 28}, LongBuffer.wrap(labels),
          new long[] {batch}, batch, Long.toString(index + 1), (index + 1) / 100.0);
    }

    @Override
    public String position() {
      return Long.toString(index);
    }

    @Override
    public void seek(String position) {
      index = Long.parseLong(position);
    }

    @Override
    public String describe() {
      return "synthetic quadrant images";
    }
  }
}
