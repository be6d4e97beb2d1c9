package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import org.twicing.dsl.ir.Value;

/** {@code y = x Wᵀ + b} with the weight in PyTorch layout [out, in]. */
public final class Linear extends Module {
  private final long in;
  private final long out;
  private final boolean bias;

  /** A linear layer with PyTorch's default initialisation. */
  public Linear(long in, long out, boolean bias) {
    this(in, out, bias, Init.torchDefault(in), Init.torchDefault(in));
  }

  /** A linear layer with explicit initialisers. */
  public Linear(long in, long out, boolean bias, Init weightInit, Init biasInit) {
    this.in = in;
    this.out = out;
    this.bias = bias;
    param("weight", weightInit, out, in);
    if (bias) {
      param("bias", biasInit, out);
    }
  }

  /** Applies the layer to the last axis of {@code x}. */
  public Value forward(Forward f, Value x) {
    try (var s = f.scope(this)) {
      Value y = matmul(x, transpose(f.param(p("weight")), 1, 0));
      return bias ? add(y, f.param(p("bias"))) : y;
    }
  }

  /**
   * {@code (xhat · γ + β) Wᵀ + b} for a LayerNorm output handed over before its affine ({@link
   * LayerNorm#normalize}), computed as {@code xhat (W diag γ)ᵀ + (W β + b)}: the affine moves onto the [out, in]
   * weight, a pass over the weight instead of two over the activations, and the same algebra gives the gradients.
   */
  public Value forward(Forward f, LayerNorm.Normalized n) {
    try (var s = f.scope(this)) {
      Value w = f.param(p("weight"));
      Value folded = mul(w, n.weight());
      Value shift = reduceSum(mul(w, n.bias()), false, 1);  // W β, over the [out, in] weight
      Value y = matmul(n.xhat(), transpose(folded, 1, 0));
      return add(y, bias ? add(shift, f.param(p("bias"))) : shift);
    }
  }

  /** Input features. */
  public long in() {
    return in;
  }

  /** Output features. */
  public long out() {
    return out;
  }
}
