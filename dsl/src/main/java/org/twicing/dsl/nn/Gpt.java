package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
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
      Attention.Spec spec = new Attention.Spec(cfg.dim(), cfg.heads(), cfg.attention().get(i), cfg.attnBias(), true,
          cfg.context(), "c_attn", "c_proj", cfg.dropout(), cfg.dropout());
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
    AttentionKind k = cfg.attention().get(layer);
    return k == AttentionKind.TWICING || k.name().equals(AttentionKind.TWICING.name());
  }

  /** Whether every layer's attention kind has an exact cached decoding (softmax or twicing). */
  public boolean supportsCachedDecoding() {
    return cfg.attention().stream().allMatch(k -> k == AttentionKind.SOFTMAX || k == AttentionKind.TWICING
        || k.name().equals(AttentionKind.SOFTMAX.name()) || k.name().equals(AttentionKind.TWICING.name()));
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
    double[] d = new double[(int) (context * dim)];
    for (int p = 0; p < context; p++) {
      for (int i = 0; i < half; i++) {
        double invFreq = 1.0 / Math.pow(10000, (2.0 * i) / dim);
        d[(int) (p * dim + i)] = Math.sin(p * invFreq);
        d[(int) (p * dim + half + i)] = Math.cos(p * invFreq);
      }
    }
    return new Tensor(DType.FLOAT32, new long[] {context, dim}, d).roundedToDType();
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
    m.put("activation", cfg.activation().name().toLowerCase(java.util.Locale.ROOT));
    m.put("positions", cfg.learnedPositions() ? "learned" : "sinusoidal");
    m.put("bias", Boolean.toString(cfg.bias()));
    m.put("attn_bias", Boolean.toString(cfg.attnBias()));
    m.put("embed_scale", Boolean.toString(cfg.embedScale()));
    m.put("dropout", Double.toString(cfg.dropout()));
    m.put("attention", cfg.attention().stream().map(AttentionKind::name).toList().toString());
    return m;
  }
}
