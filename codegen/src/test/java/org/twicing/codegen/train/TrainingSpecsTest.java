package org.twicing.codegen.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The stored form of a training spec: JSON written and read exactly, and the older key=value line still read. */
class TrainingSpecsTest {

  @Test
  void jsonRoundTripsRandomSpecsExactly() {
    Random rng = new Random(7);
    for (int i = 0; i < 200; i++) {
      Optimizer opt = rng.nextBoolean()
          ? new Optimizer.AdamW(rng.nextDouble(), rng.nextDouble(), rng.nextDouble() * 1e-6, rng.nextDouble())
          : new Optimizer.Sgd(rng.nextDouble(), rng.nextDouble() * 1e-3);
      TrainingSpec spec = new TrainingSpec(new CrossEntropy(rng.nextDouble() * 0.5, -1 - rng.nextInt(1000)), opt,
          rng.nextDouble() * 3, rng.nextLong());
      String text = TrainingSpecs.encode(spec);
      assertTrue(JsonParser.parseString(text).isJsonObject(), text);
      assertEquals(spec, TrainingSpecs.decode(text, "test"), text);
    }
  }

  @Test
  void readsTheOlderKeyValueLine() {
    String legacy = "optimizer=adamw;beta1=0.9;beta2=0.999;eps=1.0E-8;weight_decay=0.05;label_smoothing=0.1;"
        + "ignore_index=-100;clip_norm=1.0;dropout_seed=3";
    TrainingSpec spec = new TrainingSpec(new CrossEntropy(0.1, -100), new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.05),
        1.0, 3);
    assertEquals(spec, TrainingSpecs.decode(legacy, "old.safetensors"));
    assertEquals(spec, TrainingSpecs.decode(TrainingSpecs.encode(spec), "new.safetensors"));
    assertEquals("{\"optimizer\":\"adamw\",\"beta1\":0.9,\"beta2\":0.999,\"eps\":1.0E-8,\"weight_decay\":0.05,"
        + "\"label_smoothing\":0.1,\"ignore_index\":-100,\"clip_norm\":1.0,\"dropout_seed\":3}",
        TrainingSpecs.encode(spec));
  }

  @Test
  void errorsNameTheFileAndTheMissingKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TrainingSpecs.decode("{\"optimizer\":\"adamw\",\"beta1\":0.9}", "ckpt.safetensors"));
    assertTrue(e.getMessage().startsWith("ckpt.safetensors") && e.getMessage().contains("'beta2' is missing"),
        e.getMessage());
    IllegalArgumentException nested = assertThrows(IllegalArgumentException.class,
        () -> TrainingSpecs.decode("{\"optimizer\":{\"name\":\"adamw\"}}", "m.onnx"));
    assertTrue(nested.getMessage().contains("'optimizer' is not a number or a string"), nested.getMessage());
  }
}
