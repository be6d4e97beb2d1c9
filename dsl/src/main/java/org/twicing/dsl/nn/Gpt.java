package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * A GPT-style causal language model as nanoGPT names it ({@code transformer.wte}, {@code transformer.h.i...},
 * {@code transformer.ln_f}), with the output layer tied to the token embedding.
 */
public final class Gpt extends TaskModel {
  /** Hyper-parameters; {@code attention} has one kind per layer. */
  public record Config(String name, long vocab, long context, long dim, long depth, long heads, long mlp,
      double eps, boolean preNorm, Mlp.Activation activation, boolean learnedPositions, boolean bias,
      boolean attnBias, boolean embedScale, List<AttentionKind> attention, double dropout) {
    /** Validates the configuration, naming the offending field. */
    public Config {
      if (attention.size() != depth) {
        throw new IllegalArgumentException("attention kinds: " + attention.size() + " given for depth " + depth);
      }
      if (dim % heads != 0) {
        throw new IllegalArgumentException("dim " + dim + " is not divisible by heads " + heads);
      }
      if (!learnedPositions && dim % 2 != 0) {
        throw new IllegalArgumentException("sinusoidal positions need an even dim, got " + dim);
      }
    }

    /**
     * A builder for a model called {@code name}. The sizes (vocab, context, dim, depth, heads, mlp) and the
     * attention kinds have no default; the rest default to nanoGPT's: pre-LN, GELU, learned positions, biases
     * everywhere, no embedding scale, LayerNorm eps 1e-5, no dropout.
     */
    public static Builder builder(String name) {
      return new Builder(name);
    }

    /** A builder holding these settings, to derive a variant. */
    public Builder toBuilder() {
      return new Builder(name).vocab(vocab).context(context).dim(dim).depth(depth).heads(heads).mlp(mlp).eps(eps)
          .preNorm(preNorm).activation(activation).learnedPositions(learnedPositions).bias(bias).attnBias(attnBias)
          .embedScale(embedScale).attention(attention).dropout(dropout);
    }
  }

  /** Named settings of a {@link Config}; {@link #build()} checks that every setting without a default was given. */
  public static final class Builder {
    private final String name;
    private long vocab = -1;
    private long context = -1;
    private long dim = -1;
    private long depth = -1;
    private long heads = -1;
    private long mlp = -1;
    private double eps = 1e-5;
    private boolean preNorm = true;
    private Mlp.Activation activation = Mlp.Activation.GELU;
    private boolean learnedPositions = true;
    private boolean bias = true;
    private boolean attnBias = true;
    private boolean embedScale;
    private List<AttentionKind> attention;
    private AttentionKind everyLayer;
    private double dropout;

    private Builder(String name) {
      this.name = name;
    }

    /** Vocabulary size (rows of the tied token embedding and output layer). */
    public Builder vocab(long v) {
      this.vocab = v;
      return this;
    }

    /** Longest sequence (rows of the position table and the causal mask). */
    public Builder context(long v) {
      this.context = v;
      return this;
    }

    /** Model width. */
    public Builder dim(long v) {
      this.dim = v;
      return this;
    }

    /** Number of transformer blocks. */
    public Builder depth(long v) {
      this.depth = v;
      return this;
    }

    /** Attention heads per block; must divide {@code dim}. */
    public Builder heads(long v) {
      this.heads = v;
      return this;
    }

    /** Hidden width of each block's MLP. */
    public Builder mlp(long v) {
      this.mlp = v;
      return this;
    }

    /** LayerNorm epsilon. */
    public Builder eps(double v) {
      this.eps = v;
      return this;
    }

    /** Pre-LN blocks with a final LayerNorm ({@code true}) or post-LN blocks without one ({@code false}). */
    public Builder preNorm(boolean v) {
      this.preNorm = v;
      return this;
    }

    /** The MLP's activation. */
    public Builder activation(Mlp.Activation v) {
      this.activation = v;
      return this;
    }

    /** Learned position embeddings ({@code true}) or fixed sinusoids ({@code false}). */
    public Builder learnedPositions(boolean v) {
      this.learnedPositions = v;
      return this;
    }

    /** Biases in the MLP and LayerNorm-adjacent linear layers. */
    public Builder bias(boolean v) {
      this.bias = v;
      return this;
    }

    /** Biases in the attention projections. */
    public Builder attnBias(boolean v) {
      this.attnBias = v;
      return this;
    }

    /** Whether token embeddings are multiplied by {@code sqrt(dim)}. */
    public Builder embedScale(boolean v) {
      this.embedScale = v;
      return this;
    }

    /** One attention kind per layer. */
    public Builder attention(List<AttentionKind> v) {
      this.attention = List.copyOf(v);
      this.everyLayer = null;
      return this;
    }

    /** The same attention kind in every layer. */
    public Builder attention(AttentionKind v) {
      this.everyLayer = v;
      this.attention = null;
      return this;
    }

    /** Dropout probability of embeddings, attention, projections and MLPs (0: none). */
    public Builder dropout(double v) {
      this.dropout = v;
      return this;
    }

    /** The configuration; fails naming the first setting that was not given or is invalid. */
    public Config build() {
      require("vocab", vocab);
      require("context", context);
      require("dim", dim);
      require("depth", depth);
      require("heads", heads);
      require("mlp", mlp);
      if (attention == null && everyLayer == null) {
        throw new IllegalArgumentException("Gpt.Config '" + name + "': attention kinds not set");
      }
      List<AttentionKind> kinds = attention != null ? attention : Collections.nCopies((int) depth, everyLayer);
      return new Config(name, vocab, context, dim, depth, heads, mlp, eps, preNorm, activation, learnedPositions,
          bias, attnBias, embedScale, kinds, dropout);
    }

    private void require(String setting, long value) {
      if (value <= 0) {
        throw new IllegalArgumentException("Gpt.Config '" + name + "': " + setting
            + (value == -1 ? " not set" : " must be positive, got " + value));
      }
    }
  }

  private final Config cfg;
  private final Embedding wte;
  private final Embedding wpe;
  private final List<Block> h = new ArrayList<>();
  private final LayerNorm lnF;

  /** Builds the module tree for {@code cfg}. */
  public Gpt(Config cfg) {
    this.cfg = cfg;
    ModuleList transformer = child("transformer", new ModuleList());
    this.wte = transformer.put("wte", new Embedding(cfg.vocab(), cfg.dim(), Init.normal(0.02)));
    this.wpe = cfg.learnedPositions()
        ? transformer.put("wpe", new Embedding(cfg.context(), cfg.dim(), Init.normal(0.02))) : null;
    ModuleList list = transformer.put("h", new ModuleList());
    for (int i = 0; i < cfg.depth(); i++) {
      Attention.Spec spec = Attention.Spec.builder(cfg.dim(), cfg.heads()).kind(cfg.attention().get(i))
          .bias(cfg.attnBias()).causal(true).maxLen(cfg.context()).names("c_attn", "c_proj")
          .dropout(cfg.dropout()).build();
      h.add(list.add(new Block(Block.Names.NANOGPT, cfg.preNorm(), cfg.eps(), spec,
          cfg.mlp(), cfg.activation(), cfg.bias(), cfg.dropout())));
    }
    this.lnF = cfg.preNorm() ? transformer.put("ln_f", new LayerNorm(cfg.dim(), cfg.eps())) : null;
  }

  /** The configuration. */
  public Config cfg() {
    return cfg;
  }

  @Override
  public String name() {
    return cfg.name();
  }

  @Override
  public String inputName() {
    return "tokens";
  }

  @Override
  public TensorType inputType() {
    return TensorType.of(DType.INT64, "batch", "T");
  }

  @Override
  public TensorType labelsType() {
    return TensorType.of(DType.INT64, "batch", "T");
  }

  @Override
  public long classes() {
    return cfg.vocab();
  }

  @Override
  public List<AttentionKind> attentionKinds() {
    return cfg.attention();
  }

  @Override
  public Value logits(Forward f, Value tokens) {
    Value x = wte.forward(f, tokens);
    try (var s = f.scope(this)) {
      if (cfg.embedScale()) {
        x = mul(x, scalarLike(x, Math.sqrt(cfg.dim())));
      }
      Value t = dimOf(tokens, 1);
      Value pos;
      if (wpe != null) {
        Value idx = range(constantLike(tokens, Tensor.scalar(DType.INT64, 0)), squeeze(t, 0),
            constantLike(tokens, Tensor.scalar(DType.INT64, 1)));
        pos = wpe.forward(f, idx);
      } else {
        pos = sliceTo(constantLike(x, sinusoids(cfg.context(), cfg.dim())), t, 0);
      }
      x = f.dropout(add(x, pos), cfg.dropout());
    }
    for (Block b : h) {
      x = f.tap(b.path(), b.forward(f, x, null));
    }
    if (lnF != null) {
      x = lnF.forward(f, x);
    }
    try (var s = f.scope(this)) {
      return matmul(x, transpose(wte.weight(f), 1, 0));
    }
  }

  /** The logits [B, S, vocab] of one incremental decoding step and every layer's extended cache. */
  public record Decoded(Value logits, List<Attention.Cache> present) { }

  /** Whether layer {@code layer} keeps a {@code twice} cache ({@code 2v − AV}) for cached decoding. */
  public boolean cachesTwice(int layer) {
    return cfg.attention().get(layer).decoding().cachesTwice();
  }

  /** Whether every layer's attention kind has an exact cached decoding ({@link AttentionKind#decoding()}). */
  public boolean supportsCachedDecoding() {
    return cfg.attention().stream().allMatch(k -> k.decoding().cached());
  }

  /**
   * Incremental decoding: the logits of the S new {@code tokens} [B, S] at absolute positions P..P+S-1, where P is
   * the length of the caches in {@code past} (one per layer, [B, H, P, d_head]; P may be 0). The result equals the
   * rows P..P+S-1 of {@link #logits} on the whole sequence; for twicing layers exactly so because their cache holds
   * {@code 2v_j − (A V)_j}. Inference only (no dropout).
   */
  public Decoded decode(Forward f, Value tokens, List<Attention.Cache> past) {
    if (past.size() != h.size()) {
      throw new IllegalArgumentException("decode: " + past.size() + " caches given for depth " + h.size());
    }
    Value x = wte.forward(f, tokens);
    Value positions;
    try (var s = f.scope(this)) {
      if (cfg.embedScale()) {
        x = mul(x, scalarLike(x, Math.sqrt(cfg.dim())));
      }
      Value zero = constantLike(tokens, Tensor.scalar(DType.INT64, 0));
      Value one = constantLike(tokens, Tensor.scalar(DType.INT64, 1));
      Value p = squeeze(dimOf(past.get(0).key(), 2), 0);
      positions = add(range(zero, squeeze(dimOf(tokens, 1), 0), one), p);
      Value pos = wpe != null ? wpe.forward(f, positions)
          : gather(constantLike(x, sinusoids(cfg.context(), cfg.dim())), positions, 0);
      x = add(x, pos);
    }
    List<Attention.Cache> present = new ArrayList<>();
    for (int i = 0; i < h.size(); i++) {
      Attention.Step step = h.get(i).decode(f, x, past.get(i), positions);
      x = step.out();
      present.add(step.present());
    }
    if (lnF != null) {
      x = lnF.forward(f, x);
    }
    try (var s = f.scope(this)) {
      return new Decoded(matmul(x, transpose(wte.weight(f), 1, 0)), present);
    }
  }

  /** Sinusoidal positions [context, dim] as Transformer-XL lays them out: sin in the first half, cos in the second. */
  public static Tensor sinusoids(long context, long dim) {
    long half = dim / 2;
    Tensor.Builder d = Tensor.builder(DType.FLOAT32, context, dim);
    for (int p = 0; p < context; p++) {
      for (int i = 0; i < half; i++) {
        double invFreq = 1.0 / Math.pow(10000, (2.0 * i) / dim);
        d.set((int) (p * dim + i), Math.sin(p * invFreq));
        d.set((int) (p * dim + half + i), Math.cos(p * invFreq));
      }
    }
    return d.build(Rounding.TO_DTYPE);
  }

  @Override
  public Map<String, String> config() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("kind", "gpt");
    m.put("name", cfg.name());
    m.put("vocab", Long.toString(cfg.vocab()));
    m.put("context", Long.toString(cfg.context()));
    m.put("dim", Long.toString(cfg.dim()));
    m.put("depth", Long.toString(cfg.depth()));
    m.put("heads", Long.toString(cfg.heads()));
    m.put("mlp", Long.toString(cfg.mlp()));
    m.put("ln_eps", Double.toString(cfg.eps()));
    m.put("norm", cfg.preNorm() ? "pre" : "post");
    m.put("activation", cfg.activation().name().toLowerCase(Locale.ROOT));
    m.put("positions", cfg.learnedPositions() ? "learned" : "sinusoidal");
    m.put("bias", Boolean.toString(cfg.bias()));
    m.put("attn_bias", Boolean.toString(cfg.attnBias()));
    m.put("embed_scale", Boolean.toString(cfg.embedScale()));
    m.put("dropout", Double.toString(cfg.dropout()));
    m.put("attention", cfg.attention().stream().map(AttentionKind::name).toList().toString());
    return m;
  }
}
