package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import java.util.LinkedHashMap;
import java.util.Map;
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

  /** Configuration of one attention layer; {@link #builder} names each setting. */
  public record Spec(long dim, long heads, AttentionKind kind, boolean bias, boolean causal, long maxLen,
      String qkvName, String projName, double attnDropout, double projDropout) {
    /**
     * A builder for a layer of width {@code dim} with {@code heads} heads. Defaults: softmax attention, biased
     * projections named {@code qkv} and {@code proj} (timm's names), not causal, no dropout.
     */
    public static Builder builder(long dim, long heads) {
      return new Builder(dim, heads);
    }
  }

  /** Named settings of a {@link Spec}. */
  public static final class Builder {
    private final long dim;
    private final long heads;
    private AttentionKind kind = AttentionKind.SOFTMAX;
    private boolean bias = true;
    private boolean causal;
    private long maxLen;
    private String qkvName = "qkv";
    private String projName = "proj";
    private double attnDropout;
    private double projDropout;

    private Builder(long dim, long heads) {
      this.dim = dim;
      this.heads = heads;
    }

    /** How heads mix values. */
    public Builder kind(AttentionKind v) {
      this.kind = v;
      return this;
    }

    /** Whether the qkv and output projections have biases. */
    public Builder bias(boolean v) {
      this.bias = v;
      return this;
    }

    /** Whether a query attends only keys at or before its position; needs {@link #maxLen}. */
    public Builder causal(boolean v) {
      this.causal = v;
      return this;
    }

    /** The longest sequence: the size of the causal mask constant. */
    public Builder maxLen(long v) {
      this.maxLen = v;
      return this;
    }

    /** Parameter names of the fused qkv projection and the output projection (nanoGPT: c_attn, c_proj). */
    public Builder names(String qkv, String proj) {
      this.qkvName = qkv;
      this.projName = proj;
      return this;
    }

    /** Dropout of the attention matrix and of the output projection alike. */
    public Builder dropout(double p) {
      this.attnDropout = p;
      this.projDropout = p;
      return this;
    }

    /** Dropout of the attention matrix. */
    public Builder attnDropout(double p) {
      this.attnDropout = p;
      return this;
    }

    /** Dropout of the output projection. */
    public Builder projDropout(double p) {
      this.projDropout = p;
      return this;
    }

    /** The spec; a causal layer without {@link #maxLen} is an error. */
    public Spec build() {
      if (causal && maxLen <= 0) {
        throw new IllegalArgumentException("causal attention needs maxLen > 0 (the causal mask's size), got "
            + maxLen);
      }
      return new Spec(dim, heads, kind, bias, causal, maxLen, qkvName, projName, attnDropout, projDropout);
    }
  }

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
    return attend(f, qkv.forward(f, x), keyPadding);
  }

  /** As {@link #forward(Forward, Value, Value)} on a LayerNorm output whose affine the qkv projection folds in. */
  public Value forward(Forward f, LayerNorm.Normalized x, Value keyPadding) {
    return attend(f, qkv.forward(f, x), keyPadding);
  }

  /** The attention from the fused qkv projection [B, N, 3D]. */
  private Value attend(Forward f, Value fused, Value keyPadding) {
    long dh = dim / heads;
    Value out;
    try (var s = f.scope(this)) {
      var parts = split(fused, -1, dim, dim, dim);
      Value q = heads(parts.get(0), dh);
      Value k = heads(parts.get(1), dh);
      Value v = heads(parts.get(2), dh);
      Value scores = mul(matmul(q, swapLast(k)), scalarLike(q, 1.0 / Math.sqrt(dh)));
      // Masks are added as 0/-inf biases rather than selected with Where over the [B, H, N, N] scores: the bias is
      // small and broadcast by the Add, which ONNX Runtime runs about twice as fast as the broadcast Where, and
      // the backward of an Add is the identity (masked positions get no gradient either way, as softmax's
      // output there is 0).
      if (causal) {
        scores = add(scores, causalBias(scores, fused));
      }
      if (keyPadding != null) {
        scores = add(scores, maskBias(unsqueeze(keyPadding, 1, 2), scores));
      }
      Value a = f.dropout(softmax(scores, -1), attnDropout);
      Map<String, Value> headParams = new LinkedHashMap<>();
      kind.headParameters().keySet().forEach(name -> headParams.put(name, f.param(p(name))));
      Value mixed = headParams.isEmpty() ? kind.mix(a, v) : kind.mix(a, v, headParams);
      out = reshape(transpose(mixed, 0, 2, 1, 3), 0, 0, dim);
    }
    return f.dropout(proj.forward(f, out), projDropout);
  }

  private Value heads(Value t, long dh) {
    return transpose(reshape(t, 0, 0, heads, dh), 0, 2, 1, 3);
  }

  /**
   * The causal mask as an additive [T, T] bias of {@code scores}' dtype (0 on and below the diagonal, -inf above),
   * cut from a [maxLen, maxLen] constant to the run-time length T of {@code x} (any [B, T, ...] value).
   */
  private Value causalBias(Value scores, Value x) {
    Tensor.Builder m = Tensor.builder(scores.dtype(), maxLen, maxLen);
    for (int i = 0; i < maxLen; i++) {
      for (int j = i + 1; j < maxLen; j++) {
        m.set((int) (i * maxLen + j), Double.NEGATIVE_INFINITY);
      }
    }
    Value full = constantLike(x, m.build());
    Value t = dimOf(x, 1);
    return sliceTo(full, concat(0, t, t), 0, 1);
  }

  /** 0 where {@code keep} is true and -inf where it is false, in {@code like}'s dtype, shaped as {@code keep}. */
  private static Value maskBias(Value keep, Value like) {
    return where(keep, scalarLike(like, 0.0), scalarLike(like, Double.NEGATIVE_INFINITY));
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
   * {@code (2A − A²) V} for the new positions exactly, since {@code (A V)_j} depends only on keys up to j. Kinds
   * whose {@link AttentionKind#decoding()} is NONE are not supported. No dropout (inference only).
   */
  public Step decode(Forward f, Value x, Cache past, Value positions) {
    AttentionKind.Decoding decoding = kind.decoding();
    boolean twicing = decoding.cachesTwice();
    if (!decoding.cached()) {
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
      scores = add(scores, maskBias(not(future), scores));
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
