package org.twicing.dsl.nn;

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
}
