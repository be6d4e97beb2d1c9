package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * Multi-head self-attention with a fused qkv projection and an attention kind per layer. Scores are
 * {@code Q Kᵀ / sqrt(d_head)}; causal and key-padding masks set masked scores to -inf before the softmax.
 */
public final class Attention extends Module {
  private final long dim;
  private final long heads;
  private final AttentionKind kind;
  private final boolean causal;
  private final long maxLen;
  private final double attnDropout;
  private final double projDropout;
  private final Linear qkv;
  private final Linear proj;

  /** Configuration of one attention layer. */
  public record Spec(long dim, long heads, AttentionKind kind, boolean bias, boolean causal, long maxLen,
      String qkvName, String projName, double attnDropout, double projDropout) { }

  /** An attention layer per {@code spec}. */
  public Attention(Spec spec) {
    if (spec.dim() % spec.heads() != 0) {
      throw new IllegalArgumentException("attention dim " + spec.dim() + " is not divisible by heads "
          + spec.heads());
    }
    this.dim = spec.dim();
    this.heads = spec.heads();
    this.kind = spec.kind();
    this.causal = spec.causal();
    this.maxLen = spec.maxLen();
    this.attnDropout = spec.attnDropout();
    this.projDropout = spec.projDropout();
    spec.kind().headParameters().forEach((name, init) -> param(name, init, false, spec.heads(), 1, 1));
    this.qkv = child(spec.qkvName(), new Linear(dim, 3 * dim, spec.bias()));
    this.proj = child(spec.projName(), new Linear(dim, dim, spec.bias()));
  }

  /** The attention kind of this layer. */
  public AttentionKind kind() {
    return kind;
  }

  /** [B, N, D] to [B, N, D]; {@code keyPadding} ([B, N] bool, true = attend) may be null. */
  public Value forward(Forward f, Value x, Value keyPadding) {
    long dh = dim / heads;
    Value fused = qkv.forward(f, x);
    Value out;
    try (var s = f.scope(this)) {
      var parts = split(fused, -1, dim, dim, dim);
      Value q = heads(parts.get(0), dh);
      Value k = heads(parts.get(1), dh);
      Value v = heads(parts.get(2), dh);
      Value scores = mul(matmul(q, swapLast(k)), scalarLike(q, 1.0 / Math.sqrt(dh)));
      if (causal) {
        scores = where(causalMask(x), scores, scalarLike(scores, Double.NEGATIVE_INFINITY));
      }
      if (keyPadding != null) {
        scores = where(unsqueeze(keyPadding, 1, 2), scores, scalarLike(scores, Double.NEGATIVE_INFINITY));
      }
      Value a = f.dropout(softmax(scores, -1), attnDropout);
      java.util.Map<String, Value> headParams = new java.util.LinkedHashMap<>();
      kind.headParameters().keySet().forEach(name -> headParams.put(name, f.param(p(name))));
      Value mixed = headParams.isEmpty() ? kind.mix(a, v) : kind.mix(a, v, headParams);
      out = reshape(transpose(mixed, 0, 2, 1, 3), 0, 0, dim);
    }
    return f.dropout(proj.forward(f, out), projDropout);
  }

  private Value heads(Value t, long dh) {
    return transpose(reshape(t, 0, 0, heads, dh), 0, 2, 1, 3);
  }

  /** Lower-triangular [T, T] bool mask cut from a [maxLen, maxLen] constant to the run-time length T. */
  private Value causalMask(Value x) {
    double[] m = new double[(int) (maxLen * maxLen)];
    for (int i = 0; i < maxLen; i++) {
      for (int j = 0; j <= i; j++) {
        m[(int) (i * maxLen + j)] = 1;
      }
    }
    Value full = constantLike(x, new Tensor(DType.BOOL, new long[] {maxLen, maxLen}, m));
    Value t = dimOf(x, 1);
    return sliceTo(full, concat(0, t, t), 0, 1);
  }

  /**
   * Per-layer key/value cache of incremental decoding, each [B, H, P, d_head]. {@code twice} holds
   * {@code u_j = 2 v_j − (A V)_j} for every cached position j and is used (and required) only by twicing layers;
   * it is null for softmax layers.
   */
  public record Cache(Value key, Value value, Value twice) { }

  /** The result of {@link #decode}: the layer output [B, S, D] and the cache extended to P + S positions. */
  public record Step(Value out, Cache present) { }

  /**
   * Incremental (cached) causal attention for S new positions after P cached ones. {@code x} is [B, S, D];
   * {@code positions} is the rank-1 int64 [S] of absolute positions P..P+S-1 of the new queries; the new query at
   * position p attends the keys at positions at most p. Softmax layers give {@code A_new V_all}; twicing layers give
   * {@code A_new U_all} with {@code U_all = concat(past.twice, 2 v_new − A_new V_all)}, which equals the rows of
   * {@code (2A − A²) V} for the new positions exactly, since {@code (A V)_j} depends only on keys up to j. Other
   * attention kinds are not supported. No dropout (inference only).
   */
  public Step decode(Forward f, Value x, Cache past, Value positions) {
    boolean twicing = kind == AttentionKind.TWICING || kind.name().equals(AttentionKind.TWICING.name());
    boolean softmax = kind == AttentionKind.SOFTMAX || kind.name().equals(AttentionKind.SOFTMAX.name());
    if (!twicing && !softmax) {
      throw new UnsupportedOperationException("cached decoding supports softmax and twicing attention, not '"
          + kind.name() + "' (layer " + path() + ")");
    }
    if (!causal) {
      throw new UnsupportedOperationException("cached decoding needs causal attention (layer " + path() + ")");
    }
    if (twicing && past.twice() == null) {
      throw new IllegalArgumentException("twicing layer " + path() + " needs a past.twice cache");
    }
    long dh = dim / heads;
    Value fused = qkv.forward(f, x);
    Value out;
    Cache present;
    try (var s = f.scope(this)) {
      var parts = split(fused, -1, dim, dim, dim);
      Value q = heads(parts.get(0), dh);
      Value kAll = concat(2, past.key(), heads(parts.get(1), dh));
      Value vNew = heads(parts.get(2), dh);
      Value vAll = concat(2, past.value(), vNew);
      Value scores = mul(matmul(q, swapLast(kAll)), scalarLike(q, 1.0 / Math.sqrt(dh)));
      Value keyPos = range(constantLike(positions, Tensor.scalar(DType.INT64, 0)), squeeze(dimOf(kAll, 2), 0),
          constantLike(positions, Tensor.scalar(DType.INT64, 1)));
      Value future = greater(unsqueeze(keyPos, 0), unsqueeze(positions, 1));
      scores = where(future, scalarLike(scores, Double.NEGATIVE_INFINITY), scores);
      Value a = softmax(scores, -1);
      Value av = matmul(a, vAll);
      Value mixed;
      if (twicing) {
        Value uAll = concat(2, past.twice(), sub(add(vNew, vNew), av));
        mixed = matmul(a, uAll);
        present = new Cache(kAll, vAll, uAll);
      } else {
        mixed = av;
        present = new Cache(kAll, vAll, null);
      }
      out = reshape(transpose(mixed, 0, 2, 1, 3), 0, 0, dim);
    }
    return new Step(proj.forward(f, out), present);
  }
}
