package org.twicing.models.zoo;

import java.util.Optional;

/**
 * Overrides of a preset's defaults, as given on the command line: attention kind, which layers twice, the
 * vocabulary size (lm-paper) and the dropout rate. Empty fields keep the paper's defaults.
 */
public record PresetOptions(Optional<String> attention, Optional<String> twicingLayers, Optional<Long> vocab,
    Optional<Double> dropout) {
  /** No overrides. */
  public static PresetOptions defaults() {
    return new PresetOptions(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
  }

  /** A copy with the attention kind set ({@code softmax}, {@code twicing} or {@code twicingK}). */
  public PresetOptions withAttention(String kind) {
    return new PresetOptions(Optional.of(kind), twicingLayers, vocab, dropout);
  }

  /** A copy with the twicing layers set ({@code all}, {@code none}, {@code last:K}, {@code i,j,...}). */
  public PresetOptions withTwicingLayers(String spec) {
    return new PresetOptions(attention, Optional.of(spec), vocab, dropout);
  }

  /** A copy with the vocabulary size set. */
  public PresetOptions withVocab(long v) {
    return new PresetOptions(attention, twicingLayers, Optional.of(v), dropout);
  }

  /** A copy with the dropout rate set. */
  public PresetOptions withDropout(double d) {
    return new PresetOptions(attention, twicingLayers, vocab, Optional.of(d));
  }
}
