package org.twicing.dsl.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The config builders give the same records as the positional constructors with the documented defaults, name a
 * missing setting, and attention kinds declare their cached decoding.
 */
class ConfigBuildersTest {
  @Test
  void gptBuilderDefaultsAreNanoGptsAndEqualThePositionalRecord() {
    Gpt.Config built = Gpt.Config.builder("g").vocab(11).context(8).dim(8).depth(2).heads(2).mlp(16)
        .attention(AttentionKind.TWICING).build();
    Gpt.Config positional = new Gpt.Config("g", 11, 8, 8, 2, 2, 16, 1e-5, true, Mlp.Activation.GELU, true, true,
        true, false, List.of(AttentionKind.TWICING, AttentionKind.TWICING), 0.0);
    assertEquals(positional, built);
    assertEquals(positional, positional.toBuilder().build());
    Gpt.Config post = positional.toBuilder().preNorm(false).activation(Mlp.Activation.RELU).learnedPositions(false)
        .attnBias(false).embedScale(true).dropout(0.1).build();
    assertEquals(new Gpt.Config("g", 11, 8, 8, 2, 2, 16, 1e-5, false, Mlp.Activation.RELU, false, true, false, true,
        List.of(AttentionKind.TWICING, AttentionKind.TWICING), 0.1), post);
  }

  @Test
  void vitBuilderDefaultsAreTimmsAndEqualThePositionalRecord() {
    VisionTransformer.Config built = VisionTransformer.Config.builder("v").imageSize(8).channels(1).patch(4)
        .classes(3).dim(16).depth(2).heads(2).mlp(32).attention(List.of(AttentionKind.SOFTMAX, AttentionKind.TWICING))
        .build();
    VisionTransformer.Config positional = new VisionTransformer.Config("v", 8, 1, 4, 3, 16, 2, 2, 32, 1e-6, true,
        List.of(AttentionKind.SOFTMAX, AttentionKind.TWICING), 0.0);
    assertEquals(positional, built);
    assertEquals(positional, positional.toBuilder().build());
  }

  @Test
  void attentionSpecBuilderDefaultsAreTimmsAndEqualThePositionalRecord() {
    assertEquals(new Attention.Spec(8, 2, AttentionKind.SOFTMAX, true, false, 5, "qkv", "proj", 0, 0),
        Attention.Spec.builder(8, 2).maxLen(5).build());
    assertEquals(new Attention.Spec(8, 2, AttentionKind.TWICING, false, true, 5, "c_attn", "c_proj", 0.1, 0.2),
        Attention.Spec.builder(8, 2).kind(AttentionKind.TWICING).bias(false).causal(true).maxLen(5)
            .names("c_attn", "c_proj").attnDropout(0.1).projDropout(0.2).build());
  }

  @Test
  void missingSettingsAreNamed() {
    var gpt = assertThrows(IllegalArgumentException.class,
        () -> Gpt.Config.builder("g").vocab(11).dim(8).depth(1).heads(2).mlp(16).attention(AttentionKind.SOFTMAX)
            .build());
    assertTrue(gpt.getMessage().contains("context not set"), gpt.getMessage());
    var vit = assertThrows(IllegalArgumentException.class,
        () -> VisionTransformer.Config.builder("v").imageSize(8).channels(1).patch(4).classes(3).dim(16).depth(1)
            .heads(2).mlp(32).build());
    assertTrue(vit.getMessage().contains("attention kinds not set"), vit.getMessage());
    var spec = assertThrows(IllegalArgumentException.class, () -> Attention.Spec.builder(8, 2).causal(true).build());
    assertTrue(spec.getMessage().contains("maxLen"), spec.getMessage());
  }

  @Test
  void kindsDeclareTheirCachedDecoding() {
    assertEquals(AttentionKind.Decoding.KEY_VALUE, AttentionKind.parse("softmax").decoding());
    assertEquals(AttentionKind.Decoding.KEY_VALUE_TWICE, AttentionKind.parse("twicing").decoding());
    assertFalse(AttentionKind.parse("twicing-learned").decoding().cached());
    assertFalse(AttentionKind.parse("twicing3").decoding().cached());
    Gpt mixed = new Gpt(Gpt.Config.builder("g").vocab(11).context(8).dim(8).depth(2).heads(2).mlp(16)
        .attention(List.of(AttentionKind.SOFTMAX, AttentionKind.TWICING)).build());
    assertTrue(mixed.supportsCachedDecoding());
    assertFalse(mixed.cachesTwice(0));
    assertTrue(mixed.cachesTwice(1));
    Gpt learned = new Gpt(Gpt.Config.builder("g").vocab(11).context(8).dim(8).depth(1).heads(2).mlp(16)
        .attention(AttentionKind.TWICING_LEARNED).build());
    assertFalse(learned.supportsCachedDecoding());
  }
}
