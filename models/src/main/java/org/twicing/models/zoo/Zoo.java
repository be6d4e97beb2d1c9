package org.twicing.models.zoo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.Mlp;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.nn.VisionTransformer;

/** The model zoo: the paper's presets by name, with per-layer attention chosen from their defaults or overrides. */
public final class Zoo {
  /** Preset names. */
  public static final List<String> PRESETS = List.of("vit-tiny", "vit-fmnist", "lm-tiny", "lm-paper");
  /** WikiText-103's word vocabulary, lm-paper's default output size. */
  public static final long WIKITEXT103_VOCAB = 267_735;

  private Zoo() { }

  /** Builds preset {@code name} with {@code options} applied. */
  public static TaskModel build(String name, PresetOptions options) {
    return switch (name) {
      // DeiT-Tiny as in the paper: twicing in all 12 layers.
      case "vit-tiny" -> vit(name, 224, 3, 16, 1000, 192, 12, 3, 768, "all", options);
      case "vit-fmnist" -> vit(name, 28, 1, 4, 10, 128, 6, 4, 512, "all", options);
      case "lm-tiny" -> new Gpt(Gpt.Config.builder(name).vocab(options.vocab().orElse(256L)).context(128).dim(128)
          .depth(4).heads(4).mlp(512).eps(1e-5).preNorm(true).activation(Mlp.Activation.GELU).learnedPositions(true)
          .bias(true).attnBias(true).embedScale(false).attention(kinds(4, "last:2", options))
          .dropout(options.dropout().orElse(0.0)).build());
      // The paper's WikiText-103 LM: post-LN, ReLU, no attention bias, sinusoidal positions, scaled embeddings,
      // twicing in layers 14 and 15 only.
      case "lm-paper" -> new Gpt(Gpt.Config.builder(name).vocab(options.vocab().orElse(WIKITEXT103_VOCAB))
          .context(256).dim(128).depth(16).heads(8).mlp(2048).eps(1e-5).preNorm(false)
          .activation(Mlp.Activation.RELU).learnedPositions(false).bias(true).attnBias(false).embedScale(true)
          .attention(kinds(16, "14,15", options)).dropout(options.dropout().orElse(0.1)).build());
      default -> throw new IllegalArgumentException("unknown model preset '" + name + "'; presets: " + PRESETS);
    };
  }

  private static VisionTransformer vit(String name, long image, long channels, long patch, long classes, long dim,
      long depth, long heads, long mlp, String twicingDefault, PresetOptions o) {
    if (o.vocab().isPresent()) {
      throw new IllegalArgumentException("--vocab applies to language models, not " + name);
    }
    return new VisionTransformer(VisionTransformer.Config.builder(name).imageSize(image).channels(channels)
        .patch(patch).classes(classes).dim(dim).depth(depth).heads(heads).mlp(mlp).eps(1e-6).qkvBias(true)
        .attention(kinds((int) depth, twicingDefault, o)).dropout(o.dropout().orElse(0.0)).build());
  }

  /**
   * Per-layer kinds: the twicing layers (the override, else the preset's default) get the twicing kind (the
   * {@code --attention} kind when it is a twicing variant); {@code --attention softmax} makes every layer softmax.
   */
  static List<AttentionKind> kinds(int depth, String defaultLayers, PresetOptions o) {
    AttentionKind twicing = AttentionKind.TWICING;
    boolean allSoftmax = false;
    if (o.attention().isPresent()) {
      AttentionKind k = AttentionKind.parse(o.attention().get());
      if (k == AttentionKind.SOFTMAX) {
        allSoftmax = true;
      } else {
        twicing = k;
      }
    }
    boolean[] on = parseLayers(o.twicingLayers().orElse(defaultLayers), depth);
    List<AttentionKind> out = new ArrayList<>();
    for (int i = 0; i < depth; i++) {
      out.add(!allSoftmax && on[i] ? twicing : AttentionKind.SOFTMAX);
    }
    return out;
  }

  /** Parses {@code all}, {@code none}, {@code last:K} or a comma list of 0-based layer indices. */
  public static boolean[] parseLayers(String spec, int depth) {
    boolean[] on = new boolean[depth];
    String s = spec.trim().toLowerCase(Locale.ROOT);
    if (s.equals("all")) {
      Arrays.fill(on, true);
    } else if (s.equals("none")) {
      return on;
    } else if (s.startsWith("last:")) {
      int k = parseInt(s.substring(5), spec);
      if (k < 0 || k > depth) {
        throw new IllegalArgumentException("--twicing-layers " + spec + ": K must be in 0.." + depth);
      }
      for (int i = depth - k; i < depth; i++) {
        on[i] = true;
      }
    } else {
      for (String part : s.split(",")) {
        int i = parseInt(part.trim(), spec);
        if (i < 0 || i >= depth) {
          throw new IllegalArgumentException("--twicing-layers " + spec + ": layer " + i + " is out of range 0.."
              + (depth - 1));
        }
        on[i] = true;
      }
    }
    return on;
  }

  private static int parseInt(String s, String spec) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--twicing-layers '" + spec + "' is not all, none, last:K or a list of "
          + "layer indices like 14,15");
    }
  }
}
