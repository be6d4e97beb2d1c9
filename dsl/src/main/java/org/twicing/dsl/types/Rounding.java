package org.twicing.dsl.types;

/**
 * How computed values are brought to their dtype: the float64 reference evaluator takes one explicitly, so that
 * one graph can be evaluated as its dtypes store it ({@link #TO_DTYPE}) or as if its float values were float64
 * ({@link #KEEP_FLOAT64}, for finite differences and float64 references of float32 models).
 */
public enum Rounding {
  /** Every value is rounded to what its dtype holds: float rounding, integer truncation, bool to 0/1. */
  TO_DTYPE,
  /** Float values keep full float64 precision; integers are still truncated and bools still made 0/1. */
  KEEP_FLOAT64;

  /** Rounds {@code values} of dtype {@code dtype} in place under this policy. */
  void applyInPlace(DType dtype, double[] values) {
    switch (dtype) {
      case FLOAT32, FLOAT16, BFLOAT16 -> {
        if (this == KEEP_FLOAT64) {
          return;
        }
        for (int i = 0; i < values.length; i++) {
          values[i] = (float) values[i];
        }
      }
      case INT32, INT64 -> {
        for (int i = 0; i < values.length; i++) {
          values[i] = (long) values[i];
        }
      }
      case BOOL -> {
        for (int i = 0; i < values.length; i++) {
          values[i] = values[i] != 0 ? 1 : 0;
        }
      }
      default -> { }
    }
  }

  /** Whether applying this policy to values of {@code dtype} can change them. */
  boolean changes(DType dtype) {
    return switch (dtype) {
      case FLOAT64 -> false;
      case FLOAT32, FLOAT16, BFLOAT16 -> this == TO_DTYPE;
      default -> true;
    };
  }
}
