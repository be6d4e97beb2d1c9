package org.twicing.dsl.nn;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * ViT/DeiT as in timm: patch embedding, CLS token, learned positions, pre-LN blocks, final norm, linear head on
 * the CLS token. Parameter names and layouts equal timm's, so weights move between the two unchanged.
 */
public final class VisionTransformer extends TaskModel {
  /** Hyper-parameters; {@code attention} has one kind per block. */
  public record Config(String name, long imageSize, long channels, long patch, long classes, long dim, long depth,
      long heads, long mlp, double eps, boolean qkvBias, List<AttentionKind> attention, double dropout) {
    /** Validates the configuration, naming the offending field. */
    public Config {
      if (imageSize % patch != 0) {
        throw new IllegalArgumentException("image size " + imageSize + " is not divisible by patch " + patch);
      }
      if (attention.size() != depth) {
        throw new IllegalArgumentException("attention kinds: " + attention.size() + " given for depth " + depth);
      }
      if (dim % heads != 0) {
        throw new IllegalArgumentException("dim " + dim + " is not divisible by heads " + heads);
      }
    }

    /**
     * A builder for a model called {@code name}. The sizes (image size, channels, patch, classes, dim, depth,
     * heads, mlp) and the attention kinds have no default; LayerNorm eps defaults to timm's 1e-6, qkv bias to on,
     * dropout to none.
     */
    public static Builder builder(String name) {
      return new Builder(name);
    }

    /** A builder holding these settings, to derive a variant. */
    public Builder toBuilder() {
      return new Builder(name).imageSize(imageSize).channels(channels).patch(patch).classes(classes).dim(dim)
          .depth(depth).heads(heads).mlp(mlp).eps(eps).qkvBias(qkvBias).attention(attention).dropout(dropout);
    }
  }

  /** Named settings of a {@link Config}; {@link #build()} checks that every setting without a default was given. */
  public static final class Builder {
    private final String name;
    private long imageSize = -1;
    private long channels = -1;
    private long patch = -1;
    private long classes = -1;
    private long dim = -1;
    private long depth = -1;
    private long heads = -1;
    private long mlp = -1;
    private double eps = 1e-6;
    private boolean qkvBias = true;
    private List<AttentionKind> attention;
    private AttentionKind everyLayer;
    private double dropout;

    private Builder(String name) {
      this.name = name;
    }

    /** Side of the square input image in pixels; a multiple of {@link #patch}. */
    public Builder imageSize(long v) {
      this.imageSize = v;
      return this;
    }

    /** Input channels (1 grey, 3 RGB). */
    public Builder channels(long v) {
      this.channels = v;
      return this;
    }

    /** Side of a square patch in pixels. */
    public Builder patch(long v) {
      this.patch = v;
      return this;
    }

    /** Number of output classes. */
    public Builder classes(long v) {
      this.classes = v;
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

    /** Whether the qkv projection has a bias. */
    public Builder qkvBias(boolean v) {
      this.qkvBias = v;
      return this;
    }

    /** One attention kind per block. */
    public Builder attention(List<AttentionKind> v) {
      this.attention = List.copyOf(v);
      this.everyLayer = null;
      return this;
    }

    /** The same attention kind in every block. */
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
      require("imageSize", imageSize);
      require("channels", channels);
      require("patch", patch);
      require("classes", classes);
      require("dim", dim);
      require("depth", depth);
      require("heads", heads);
      require("mlp", mlp);
      if (attention == null && everyLayer == null) {
        throw new IllegalArgumentException("VisionTransformer.Config '" + name + "': attention kinds not set");
      }
      List<AttentionKind> kinds = attention != null ? attention : Collections.nCopies((int) depth, everyLayer);
      return new Config(name, imageSize, channels, patch, classes, dim, depth, heads, mlp, eps, qkvBias, kinds,
          dropout);
    }

    private void require(String setting, long value) {
      if (value <= 0) {
        throw new IllegalArgumentException("VisionTransformer.Config '" + name + "': " + setting
            + (value == -1 ? " not set" : " must be positive, got " + value));
      }
    }
  }

  private final Config cfg;
  private final PatchEmbed patchEmbed;
  private final List<Block> blocks = new ArrayList<>();
  private final LayerNorm norm;
  private final Linear head;

  /** Builds the module tree for {@code cfg}. */
  public VisionTransformer(Config cfg) {
    this.cfg = cfg;
    long tokens = (cfg.imageSize() / cfg.patch()) * (cfg.imageSize() / cfg.patch()) + 1;
    this.patchEmbed = child("patch_embed", new PatchEmbed(cfg.channels(), cfg.dim(), cfg.patch()));
    param("cls_token", Init.truncNormal(0.02), false, 1, 1, cfg.dim());
    param("pos_embed", Init.truncNormal(0.02), false, 1, tokens, cfg.dim());
    ModuleList list = child("blocks", new ModuleList());
    for (int i = 0; i < cfg.depth(); i++) {
      Attention.Spec spec = Attention.Spec.builder(cfg.dim(), cfg.heads()).kind(cfg.attention().get(i))
          .bias(cfg.qkvBias()).maxLen(tokens).names("qkv", "proj").dropout(cfg.dropout()).build();
      blocks.add(list.add(new Block(Block.Names.TIMM, true, cfg.eps(), spec, cfg.mlp(),
          Mlp.Activation.GELU, true, cfg.dropout())));
    }
    this.norm = child("norm", new LayerNorm(cfg.dim(), cfg.eps()));
    this.head = child("head", new Linear(cfg.dim(), cfg.classes(), true, Init.truncNormal(0.02), Init.zeros()));
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
    return "pixels";
  }

  @Override
  public TensorType inputType() {
    return TensorType.of(DType.FLOAT32, "batch", cfg.channels(), cfg.imageSize(), cfg.imageSize());
  }

  @Override
  public TensorType labelsType() {
    return TensorType.of(DType.INT64, "batch");
  }

  @Override
  public long classes() {
    return cfg.classes();
  }

  @Override
  public List<AttentionKind> attentionKinds() {
    return cfg.attention();
  }

  @Override
  public Value logits(Forward f, Value pixels) {
    Value x = patchEmbed.forward(f, pixels);
    try (var s = f.scope(this)) {
      Value cls = expand(f.param(p("cls_token")), concat(0, dimOf(x, 0), ints(x, 1, cfg.dim())));
      x = add(concat(1, cls, x), f.param(p("pos_embed")));
      x = f.dropout(x, cfg.dropout());
    }
    for (Block b : blocks) {
      x = f.tap(b.path(), b.forward(f, x, null));
    }
    Value clsToken;
    try (var s = f.scope(this)) {
      // LayerNorm is per token, so normalising only the CLS token gives timm's result at 1/N of the cost.
      clsToken = gather(x, constantLike(x, Tensor.scalar(DType.INT64, 0)), 1);
    }
    return head.forward(f, norm.forward(f, clsToken));
  }

  @Override
  public Map<String, String> config() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("kind", "vit");
    m.put("name", cfg.name());
    m.put("image_size", Long.toString(cfg.imageSize()));
    m.put("channels", Long.toString(cfg.channels()));
    m.put("patch", Long.toString(cfg.patch()));
    m.put("classes", Long.toString(cfg.classes()));
    m.put("dim", Long.toString(cfg.dim()));
    m.put("depth", Long.toString(cfg.depth()));
    m.put("heads", Long.toString(cfg.heads()));
    m.put("mlp", Long.toString(cfg.mlp()));
    m.put("ln_eps", Double.toString(cfg.eps()));
    m.put("qkv_bias", Boolean.toString(cfg.qkvBias()));
    m.put("dropout", Double.toString(cfg.dropout()));
    m.put("attention", cfg.attention().stream().map(AttentionKind::name).toList().toString());
    return m;
  }
}
