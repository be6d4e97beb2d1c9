package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.InferenceRunner;

/** Cached decoding generates what recomputing the whole window generates, for softmax and twicing layers. */
class CachedTextGeneratorTest {
  private static void sameAsUncached(String twicingLayers) {
    Gpt model = (Gpt) Zoo.build("lm-tiny", PresetOptions.defaults().withTwicingLayers(twicingLayers));
    StateDict w = StateDict.initialize(model, 11);
    byte[] prompt = "twicing attention ".getBytes(StandardCharsets.UTF_8);
    byte[] bytes = ModelArtifacts.inferenceModel(model, w, null, EmitOptions.defaults()).toByteArray();
    try (ModelSession s = ModelSession.open(bytes);
        CachedTextGenerator cached = new CachedTextGenerator(model, w, SessionOptionsSpec.defaults())) {
      byte[] reference = TextGenerator.generate(InferenceRunner.of(s, "tokens"), 128, prompt, 40, 0.0, 0, 0);
      byte[] fast = cached.generate(prompt, 40, 0.0, 0, 0);
      assertArrayEquals(reference, fast, "greedy generation, twicing layers " + twicingLayers);
      // Past the context the cache restarts from half a context of text: it still yields every byte asked for.
      assertEquals(150, cached.generate(prompt, 150, 0.8, 5, 1).length);
    }
  }

  @Test
  void defaultLayers() {
    sameAsUncached("last:2");
  }

  @Test
  void everyLayerTwicing() {
    sameAsUncached("all");
  }
}
