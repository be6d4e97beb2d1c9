package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import java.util.Map;
import org.twicing.dsl.ir.Value;

/**
 * How a head turns its attention matrix {@code A} [.., N, N] (rows sum to one, after dropout) and values
 * {@code V} [.., N, d] into its output. New kinds are a few lines: implement {@link #mix}.
 */
public interface AttentionKind {
  /** The highest order K of {@code twicingK}: each order adds a matrix product per head, and 16 is far past use. */
  int MAX_ORDER = 16;

  /** The kind's name, recorded in model metadata ({@code softmax}, {@code twicing}, ...). */
  String name();

  /** The head output for attention matrix {@code a} and values {@code v}. */
  Value mix(Value a, Value v);

  /**
   * Learnable per-head scalars this kind needs, by parameter name with their initialisers; the attention layer
   * declares each as a [heads, 1, 1] parameter of its own. None by default.
   */
  default Map<String, Init> headParameters() {
    return Map.of();
  }

  /** The head output when the kind has {@link #headParameters()}: {@code params} holds their graph values. */
  default Value mix(Value a, Value v, Map<String, Value> params) {
    return mix(a, v);
  }

  /**
   * How a kind caches for incremental (cached) decoding. A kind has an exact cached decoding only when each
   * position's output depends on cached per-position state that later positions never change.
   */
  enum Decoding {
    /** No exact cached decoding: generation recomputes the whole sequence. */
    NONE,
    /** Keys and values are cached; the new rows are {@code A_new V_all} (softmax attention). */
    KEY_VALUE,
    /**
     * Keys, values and {@code u_j = 2 v_j − (A V)_j} are cached; the new rows are {@code A_new U_all}, exactly the
     * rows of {@code (2A − A²) V} since {@code (A V)_j} depends only on keys up to j (twicing attention).
     */
    KEY_VALUE_TWICE;

    /** Whether the kind decodes from a cache at all. */
    public boolean cached() {
      return this != NONE;
    }

    /** Whether the cache holds the {@code twice} tensor besides keys and values. */
    public boolean cachesTwice() {
      return this == KEY_VALUE_TWICE;
    }
  }

  /** How this kind caches for decoding; {@link Decoding#NONE} unless the kind declares an exact cached decoding. */
  default Decoding decoding() {
    return Decoding.NONE;
  }

  /** Standard attention: {@code A V}. */
  AttentionKind SOFTMAX = new AttentionKind() {
    @Override
    public String name() {
      return "softmax";
    }

    @Override
    public Decoding decoding() {
      return Decoding.KEY_VALUE;
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
    public Decoding decoding() {
      return Decoding.KEY_VALUE_TWICE;
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
    if (k < 1 || k > MAX_ORDER) {
      throw new IllegalArgumentException("higher-order twicing needs 1 <= k <= " + MAX_ORDER + ", got " + k);
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

  /**
   * Twicing with a learnable weight on the correction per head: {@code AV + λ·A(V − AV)}, λ a [heads, 1, 1]
   * parameter {@code twicing_weight} starting at 1 (plain twicing); λ = 0 is softmax attention.
   */
  AttentionKind TWICING_LEARNED = new AttentionKind() {
    @Override
    public String name() {
      return "twicing-learned";
    }

    @Override
    public Map<String, Init> headParameters() {
      return Map.of("twicing_weight", Init.ones());
    }

    @Override
    public Value mix(Value a, Value v) {
      throw new IllegalStateException("twicing-learned needs its twicing_weight parameter; use mix(a, v, params)");
    }

    @Override
    public Value mix(Value a, Value v, Map<String, Value> params) {
      Value av = matmul(a, v);
      return add(av, mul(params.get("twicing_weight"), matmul(a, sub(v, av))));
    }
  };

  /** Parses {@code softmax}, {@code twicing}, {@code twicing-learned} or {@code twicingK} (higher order). */
  static AttentionKind parse(String s) {
    if (s.equals("softmax")) {
      return SOFTMAX;
    }
    if (s.equals("twicing-learned")) {
      return TWICING_LEARNED;
    }
    if (s.equals("twicing")) {
      return TWICING;
    }
    // At most three digits, no leading zero: a huge K would build a graph of K matrix products per layer.
    if (s.matches("twicing[1-9][0-9]{0,2}") && Integer.parseInt(s.substring(7)) <= MAX_ORDER) {
      return higherOrder(Integer.parseInt(s.substring(7)));
    }
    throw new IllegalArgumentException("unknown attention kind '" + s
        + "' (expected softmax, twicing, twicing-learned or twicingK with K from 1 to " + MAX_ORDER + ")");
  }
}
