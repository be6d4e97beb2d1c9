package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.add;

import org.twicing.dsl.ir.Value;

/** A transformer block: attention and MLP sub-layers with residuals, pre-LN or post-LN. */
public final class Block extends Module {
  private final boolean preNorm;
  private final LayerNorm norm1;
  private final Attention attn;
  private final LayerNorm norm2;
  private final Mlp mlp;

  /** Member names differ between ecosystems (norm1/ln_1, ...); this holds them. */
  public record Names(String norm1, String attn, String norm2, String mlp, String fc1, String fc2) {
    /** timm's names. */
    public static final Names TIMM = new Names("norm1", "attn", "norm2", "mlp", "fc1", "fc2");
    /** nanoGPT's names. */
    public static final Names NANOGPT = new Names("ln_1", "attn", "ln_2", "mlp", "c_fc", "c_proj");
  }

  /** A block over {@code dim} features. */
  public Block(Names names, boolean preNorm, double eps, Attention.Spec attention, long hidden,
      Mlp.Activation act, boolean mlpBias, double dropout) {
    this.preNorm = preNorm;
    this.norm1 = child(names.norm1(), new LayerNorm(attention.dim(), eps));
    this.attn = child(names.attn(), new Attention(attention));
    this.norm2 = child(names.norm2(), new LayerNorm(attention.dim(), eps));
    this.mlp = child(names.mlp(), new Mlp(names.fc1(), names.fc2(), attention.dim(), hidden, act, mlpBias,
        dropout));
  }

  /** The block's attention layer. */
  public Attention attention() {
    return attn;
  }

  /** Applies the block to [B, N, D]. */
  public Value forward(Forward f, Value x, Value keyPadding) {
    if (preNorm && f.training()) {
      // Each norm feeds only its sub-layer's first Linear, which folds the affine in; inference graphs keep the
      // LayerNormalization op (TensorRT wants it, and ONNX Runtime fuses it there).
      Value h = add(x, attn.forward(f, norm1.normalize(f, x), keyPadding));
      return add(h, mlp.forward(f, norm2.normalize(f, h)));
    }
    if (preNorm) {
      Value h = add(x, attn.forward(f, norm1.forward(f, x), keyPadding));
      return add(h, mlp.forward(f, norm2.forward(f, h)));
    }
    Value h = norm1.forward(f, add(x, attn.forward(f, x, keyPadding)));
    return norm2.forward(f, add(h, mlp.forward(f, h)));
  }

  /**
   * One incremental decoding step of the block on the S new positions [B, S, D] given the layer's cache (see
   * {@link Attention#decode}); returns the block output and the extended cache.
   */
  public Attention.Step decode(Forward f, Value x, Attention.Cache past, Value positions) {
    if (preNorm) {
      Attention.Step a = attn.decode(f, norm1.forward(f, x), past, positions);
      Value h = add(x, a.out());
      return new Attention.Step(add(h, mlp.forward(f, norm2.forward(f, h))), a.present());
    }
    Attention.Step a = attn.decode(f, x, past, positions);
    Value h = norm1.forward(f, add(x, a.out()));
    return new Attention.Step(norm2.forward(f, add(h, mlp.forward(f, h))), a.present());
  }
}
