package org.twicing.dsl.nn;

import java.util.Random;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;

/** A parameter initialiser: draws a float32 tensor of a given shape from a seeded generator. */
@FunctionalInterface
public interface Init {
  /** Creates the initial value. */
  Tensor create(long[] shape, Random rng);

  /** Zeros. */
  static Init zeros() {
    return (s, r) -> Tensor.zeros(DType.FLOAT32, s);
  }

  /** Ones. */
  static Init ones() {
    return (s, r) -> Tensor.full(DType.FLOAT32, 1.0, s);
  }

  /** Normal(0, std) truncated to [-2, 2] absolute, as timm's {@code trunc_normal_(std=.02)}. */
  static Init truncNormal(double std) {
    return (s, r) -> {
      Tensor.Builder d = Tensor.builder(DType.FLOAT32, s);
      for (int i = 0; i < d.size(); i++) {
        double v;
        do {
          v = r.nextGaussian() * std;
        } while (v < -2 || v > 2);
        d.set(i, v);
      }
      return d.build(Rounding.TO_DTYPE);
    };
  }

  /** Normal(0, std), as nanoGPT's {@code normal_(std=0.02)}. */
  static Init normal(double std) {
    return (s, r) -> Tensor.randn(DType.FLOAT32, r, std, s);
  }

  /**
   * Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for Linear and Conv weights (kaiming_uniform with
   * a = sqrt(5)) and biases.
   */
  static Init torchDefault(long fanIn) {
    double bound = 1.0 / Math.sqrt(fanIn);
    return (s, r) -> {
      Tensor.Builder d = Tensor.builder(DType.FLOAT32, s);
      for (int i = 0; i < d.size(); i++) {
        d.set(i, (r.nextDouble() * 2 - 1) * bound);
      }
      return d.build(Rounding.TO_DTYPE);
    };
  }
}
