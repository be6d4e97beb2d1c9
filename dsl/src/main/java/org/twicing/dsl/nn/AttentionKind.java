package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import org.twicing.dsl.ir.Value;

/**
 * How a head turns its attention matrix {@code A} [.., N, N] (rows sum to one, after dropout) and values
 * {@code V} [.., N, d] into its output. New kinds are a few lines: implement {@link #mix}.
 */
public interface AttentionKind {
  /** The kind's name, recorded in model metadata ({@code softmax}, {@code twicing}, ...). */
  String name();

  /** The head output for attention matrix {@code a} and values {@code v}. */
  Value mix(Value a, Value v);

  /** Standard attention: {@code A V}. */
  AttentionKind SOFTMAX = new AttentionKind() {
    @Override
    public String name() {
      return "softmax";
    }

    @Override
    public Value mix(Value a, Value v) {
      return matmul(a, v);
    }
  };

  /**
   * Twicing attention {@code (2A − A²) V}, computed as {@code A (2V − A V)}: one shared A, two N×N·N×d products,
   * never the O(N³) {@code A²}. The result is not re-normalised: {@code 2A − A²} has unit row sums but may be
   * negative.
   */
  AttentionKind TWICING = new AttentionKind() {
    @Override
    public String name() {
      return "twicing";
    }

    @Override
    public Value mix(Value a, Value v) {
      Value av = matmul(a, v);
      return matmul(a, sub(add(v, v), av));
    }
  };

  /**
   * Higher-order twicing {@code (I − (I − A)^k) V} by k smoothing passes: {@code u ← u + A (V − u)} from u = 0.
   * k = 1 is softmax attention, k = 2 is twicing.
   */
  static AttentionKind higherOrder(int k) {
    if (k < 1) {
      throw new IllegalArgumentException("higher-order twicing needs k >= 1, got " + k);
    }
    return new AttentionKind() {
      @Override
      public String name() {
        return "twicing" + k;
      }

      @Override
      public Value mix(Value a, Value v) {
        Value u = matmul(a, v);
        for (int i = 1; i < k; i++) {
          u = add(u, matmul(a, sub(v, u)));
        }
        return u;
      }
    };
  }

  /** Parses {@code softmax}, {@code twicing} or {@code twicingK} (higher order). */
  static AttentionKind parse(String s) {
    if (s.equals("softmax")) {
      return SOFTMAX;
    }
    if (s.equals("twicing")) {
      return TWICING;
    }
    if (s.matches("twicing[0-9]+")) {
      return higherOrder(Integer.parseInt(s.substring(7)));
    }
    throw new IllegalArgumentException("unknown attention kind '" + s + "' (expected softmax, twicing or twicingK)");
  }
}
