package org.twicing.dsl.nn;

import java.util.List;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;

/** Layer normalisation over the last axis with weight and bias (ONNX LayerNormalization). */
public final class LayerNorm extends Module {
  private final double eps;

  /** A LayerNorm over {@code dim} features. */
  public LayerNorm(long dim, double eps) {
    this.eps = eps;
    param("weight", Init.ones(), false, dim);
    param("bias", Init.zeros(), false, dim);
  }

  /** Normalises the last axis. */
  public Value forward(Forward f, Value x) {
    try (var s = f.scope(this)) {
      return Ops.layerNorm(x, f.param(p("weight")), f.param(p("bias")), -1, eps);
    }
  }

  /**
   * The normalised input x̂ = (x − mean) / sqrt(var + eps) with the affine weight and bias left for the layer that
   * reads it: a pre-norm block's first Linear folds them into its own weight and bias ({@link
   * Linear#forward(Forward, Normalized)}), which saves the two affine passes forward and the weight and bias
   * gradients' passes backward. x̂ is built from the same primitives the emitter writes for LayerNormalization,
   * with its backward by hand ({@link Ops#withGradient}) so that it reads the forward's x̂ and 1/σ.
   */
  public Normalized normalize(Forward f, Value x) {
    try (var s = f.scope(this)) {
      int last = x.rank() - 1;
      Value mean = Ops.reduceMean(x, true, last);
      Value d = Ops.sub(x, mean);
      Value var = Ops.reduceMean(Ops.mul(d, d), true, last);
      Value inv = Ops.div(Ops.scalarLike(x, 1.0), Ops.sqrt(Ops.add(var, Ops.scalarLike(x, eps))));
      Value xhat = Ops.mul(d, inv);
      Value marked = Ops.withGradient("layer_norm", xhat, List.of(x),
          dxhat -> List.of(Ops.normalizedInputGradient(dxhat, xhat, inv, last)));
      return new Normalized(marked, f.param(p("weight")), f.param(p("bias")));
    }
  }

  /** A LayerNorm's normalised input and the affine weight and bias still to apply: y = xhat · weight + bias. */
  public record Normalized(Value xhat, Value weight, Value bias) { }
}
