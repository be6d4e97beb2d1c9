package com.example;

import static org.twicing.dsl.ops.Ops.*;

import java.util.List;
import java.util.Map;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Attention;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Block;
import org.twicing.dsl.nn.Embedding;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.Init;
import org.twicing.dsl.nn.LayerNorm;
import org.twicing.dsl.nn.Linear;
import org.twicing.dsl.nn.Mlp;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorType;

/** The README's byte-level sequence classifier: an embedding, one higher-order twicing block, mean pooling. */
final class ByteClassifier extends TaskModel {
  private final long len, classes;
  private final Embedding embed;
  private final Block block;
  private final LayerNorm norm;
  private final Linear head;

  ByteClassifier(long len, long dim, long classes) {
    this.len = len;
    this.classes = classes;
    embed = child("embed", new Embedding(256, dim, Init.normal(0.02)));
    param("pos", Init.truncNormal(0.02), false, len, dim);               // no weight decay
    var attn = Attention.Spec.builder(dim, 2).kind(AttentionKind.higherOrder(3)).maxLen(len).build();
    block = child("block", new Block(Block.Names.TIMM, true, 1e-6, attn, 4 * dim, Mlp.Activation.GELU, true, 0));
    norm = child("norm", new LayerNorm(dim, 1e-6));
    head = child("head", new Linear(dim, classes, true));
  }

  @Override public Value logits(Forward f, Value tokens) {
    Value x = add(embed.forward(f, tokens), f.param(p("pos")));
    x = block.forward(f, x, null);                                      // null: no key-padding mask
    return head.forward(f, reduceMean(norm.forward(f, x), false, 1));   // mean over tokens
  }

  @Override public String name() { return "byte-classifier"; }
  @Override public String inputName() { return "tokens"; }
  @Override public TensorType inputType() { return TensorType.of(DType.INT64, "batch", len); }
  @Override public TensorType labelsType() { return TensorType.of(DType.INT64, "batch"); }
  @Override public long classes() { return classes; }
  @Override public List<AttentionKind> attentionKinds() { return List.of(AttentionKind.higherOrder(3)); }
  @Override public Map<String, String> config() { return Map.of("kind", "byte-classifier"); }
}
