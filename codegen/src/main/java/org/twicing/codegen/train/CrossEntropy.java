package org.twicing.codegen.train;

import static org.twicing.dsl.ops.Ops.*;

import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * Softmax cross-entropy as {@code torch.nn.functional.cross_entropy}: mean over all labelled positions, with
 * label smoothing (target {@code (1 − s)·onehot + s/C}) and an ignore index whose positions count neither in the
 * sum nor in the mean.
 */
public record CrossEntropy(double labelSmoothing, long ignoreIndex) {
  /** PyTorch's defaults: no smoothing, ignore index -100. */
  public static CrossEntropy defaults() {
    return new CrossEntropy(0.0, -100);
  }

  /** Validates the settings. */
  public CrossEntropy {
    if (labelSmoothing < 0 || labelSmoothing >= 1) {
      throw new IllegalArgumentException("label smoothing must be in [0, 1), got " + labelSmoothing);
    }
  }

  /** The scalar loss of {@code logits} [.., C] against int64 {@code labels} [..]. */
  public Value apply(Value logits, Value labels) {
    long classes = logits.shape().dim(-1).size();
    try (var s = logits.graph().absoluteScope("loss")) {
      Value logp = logSoftmax(logits, -1);
      double off = labelSmoothing / classes;
      double on = 1 - labelSmoothing + off;
      Value ignored = equal(labels, constantLike(labels, Tensor.scalar(DType.INT64, ignoreIndex)));
      // Ignored positions look up class 0 (OneHot would wrap negative indices) and are masked out below.
      Value safe = where(ignored, constantLike(labels, Tensor.scalar(DType.INT64, 0)), labels);
      Value target = oneHot(safe, classes, new Tensor(logits.dtype(), new long[] {2}, new double[] {off, on})
          .roundedToDType());
      Value perPosition = neg(reduceSum(mul(target, logp), false, -1));
      Value valid = where(ignored, scalarLike(logits, 0.0), scalarLike(logits, 1.0));
      return div(reduceSum(mul(perPosition, valid), false), reduceSum(valid, false));
    }
  }
}
