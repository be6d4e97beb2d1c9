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
      Attention.Spec spec = new Attention.Spec(cfg.dim(), cfg.heads(), cfg.attention().get(i), cfg.qkvBias(),
          false, tokens, "qkv", "proj", cfg.dropout(), cfg.dropout());
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
