package org.twicing.dsl.nn;

import java.util.List;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;

/** Two linear layers with an activation between, named as the host ecosystem names them (fc1/fc2, c_fc/c_proj). */
public final class Mlp extends Module {
  /** The activation between the layers. */
  public enum Activation { GELU, RELU }

  private final Linear up;
  private final Linear down;
  private final Activation act;
  private final double dropout;

  /** An MLP dim -> hidden -> dim. */
  public Mlp(String upName, String downName, long dim, long hidden, Activation act, boolean bias, double dropout) {
    this.up = child(upName, new Linear(dim, hidden, bias));
    this.down = child(downName, new Linear(hidden, dim, bias));
    this.act = act;
    this.dropout = dropout;
  }

  /** Applies the MLP. */
  public Value forward(Forward f, Value x) {
    return afterUp(f, up.forward(f, x));
  }

  /** Applies the MLP to a LayerNorm output whose affine the first layer folds in ({@link LayerNorm#normalize}). */
  public Value forward(Forward f, LayerNorm.Normalized x) {
    return afterUp(f, up.forward(f, x));
  }

  private Value afterUp(Forward f, Value up) {
    Value h = up;
    try (var s = f.scope(this)) {
      h = act == Activation.GELU ? gelu(h) : Ops.relu(h);
    }
    return f.dropout(down.forward(f, h), dropout);
  }

  /**
   * Exact GELU: x * (1 + erf(x / sqrt 2)) / 2, written with a Div by sqrt 2 (the form torch.onnx exports) because
   * ONNX Runtime fuses exactly that pattern, and the bias Add before it, into one BiasGelu kernel in inference
   * graphs (about 7% of vit-fmnist inference); a Mul by 1/sqrt 2 is not fused. Its backward is written by hand
   * ({@link #geluBackward}) from the forward's s = x/sqrt 2 and t = 1 + erf(s): 7 elementwise passes where the chain
   * rule through the five primitives takes 10.
   */
  public static Value gelu(Value x) {
    Value half = Ops.scalarLike(x, 0.5);
    Value s = Ops.div(x, Ops.scalarLike(x, Math.sqrt(2)));
    Value t = Ops.add(Ops.erf(s), Ops.scalarLike(x, 1.0));
    Value y = Ops.mul(Ops.mul(x, half), t);
    return Ops.withGradient("gelu", y, List.of(x), dy -> List.of(geluBackward(dy, s, t)));
  }

  /**
   * dL/dx of y = x Phi(x) given dL/dy, s = x/sqrt 2 and t = 1 + erf(s): dy/dx = Phi(x) + x phi(x)
   * = (t + (2/sqrt pi) s e^(-s^2)) / 2. The Gaussian factor is s / e^(s^2) (a Div, which goes to 0 where e^(s^2)
   * overflows, as the true value does) to save a negation pass.
   */
  public static Value geluBackward(Value dy, Value s, Value t) {
    Value z = Ops.div(s, Ops.exp(Ops.mul(s, s)));
    Value u = Ops.add(t, Ops.mul(z, Ops.scalarLike(s, 2 / Math.sqrt(Math.PI))));
    // dy / 2 first: dy is a MatMul product (the next layer's backward) read only here, so ONNX Runtime folds the
    // halving into that MatMul's alpha and the backward is 6 passes.
    return Ops.mul(Ops.mul(dy, Ops.scalarLike(s, 0.5)), u);
  }
}
