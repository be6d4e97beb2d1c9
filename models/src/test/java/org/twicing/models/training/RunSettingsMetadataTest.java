package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.train.Optimizer;
import org.twicing.runtime.train.LrSchedule;

/**
 * Run metadata in the format checkpoints and trained models already hold (strings {@code cosine}, {@code sgd} and
 * so on, written before the settings were typed) still reads, and writing it back is byte-identical.
 */
class RunSettingsMetadataTest {
  /** {@code twicing.run.*} metadata exactly as {@code twicing train} wrote it before the enums existed. */
  private static Map<String, String> writtenToday() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("twicing.run.preset", "lm-tiny");
    m.put("twicing.run.attention", "twicing");
    m.put("twicing.run.twicing_layers", "last:2");
    m.put("twicing.run.data", "text:/data/corpus.txt");
    m.put("twicing.run.batch", "16");
    m.put("twicing.run.lr", "0.003");
    m.put("twicing.run.min_lr", "3.0E-5");
    m.put("twicing.run.warmup", "12");
    m.put("twicing.run.schedule", "constant");
    m.put("twicing.run.optimizer", "sgd");
    m.put("twicing.run.weight_decay", "0.01");
    m.put("twicing.run.momentum", "0.8");
    m.put("twicing.run.clip_norm", "1.0");
    m.put("twicing.run.label_smoothing", "0.1");
    m.put("twicing.run.seed", "7");
    m.put("twicing.run.steps", "240");
    return m;
  }

  @Test
  void readsTodaysMetadataAndWritesItBackByteIdentical() {
    RunSettings s = RunSettings.fromMetadata(writtenToday(), "ckpt.safetensors");
    assertEquals("lm-tiny", s.preset());
    assertEquals("twicing", s.attention());
    assertEquals("last:2", s.twicingLayers());
    assertEquals("text:/data/corpus.txt", s.data());
    assertNull(s.dataDir());
    assertEquals(16, s.batch());
    assertEquals(0.003, s.lr());
    assertEquals(3.0e-5, s.minLr());
    assertEquals(12, s.warmup());
    assertEquals(LrSchedule.Kind.CONSTANT, s.schedule());
    assertEquals(OptimizerKind.SGD, s.optimizer());
    assertEquals(0.01, s.weightDecay());
    assertEquals(0.8, s.momentum());
    assertEquals(1.0, s.clipNorm());
    assertEquals(0.1, s.labelSmoothing());
    assertEquals(7, s.seed());
    assertEquals(240, s.steps());
    assertEquals(writtenToday(), s.toMetadata());
    assertEquals(String.join("\n", writtenToday().keySet()), String.join("\n", s.toMetadata().keySet()));
    // What the typed settings build equals what the strings stood for.
    assertEquals(new Optimizer.Sgd(0.8, 0.01), s.spec().optimizer());
    assertEquals(LrSchedule.warmupConstant(0.003, 12), s.lrSchedule());
  }

  @Test
  void cosineAdamwAndAnOptionalDataDirRoundTrip() {
    Map<String, String> m = writtenToday();
    m.put("twicing.run.schedule", "cosine");
    m.put("twicing.run.optimizer", "adamw");
    m.remove("twicing.run.attention");
    m.remove("twicing.run.twicing_layers");
    m.put("twicing.run.data", "fashion-mnist");
    Map<String, String> ordered = new LinkedHashMap<>();
    m.forEach((k, v) -> {
      ordered.put(k, v);
      if (k.equals("twicing.run.data")) {
        ordered.put("twicing.run.data_dir", "/data/fmnist");
      }
    });
    RunSettings s = RunSettings.fromMetadata(ordered, "model.onnx");
    assertEquals(LrSchedule.Kind.COSINE, s.schedule());
    assertEquals(OptimizerKind.ADAMW, s.optimizer());
    assertEquals(ordered, s.toMetadata());
    assertEquals(new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.01), s.spec().optimizer());
    assertEquals(LrSchedule.warmupCosine(0.003, 12, 240, 3.0e-5), s.lrSchedule());
    assertEquals(s, s.toBuilder().build());
    assertEquals(480, s.withSteps(480).steps());
  }

  @Test
  void badSpellingsAndMissingKeysAreNamed() {
    Map<String, String> m = writtenToday();
    m.put("twicing.run.schedule", "linear");
    var e = assertThrows(IllegalArgumentException.class, () -> RunSettings.fromMetadata(m, "f"));
    assertEquals("--schedule must be constant or cosine, got 'linear'", e.getMessage());
    m.put("twicing.run.schedule", "COSINE");
    assertEquals(LrSchedule.Kind.COSINE, RunSettings.fromMetadata(m, "f").schedule());
    m.put("twicing.run.optimizer", "adam");
    e = assertThrows(IllegalArgumentException.class, () -> RunSettings.fromMetadata(m, "f"));
    assertEquals("--optimizer must be adamw or sgd, got 'adam'", e.getMessage());
    m.put("twicing.run.optimizer", "sgd");
    m.remove("twicing.run.min_lr");
    e = assertThrows(IllegalArgumentException.class, () -> RunSettings.fromMetadata(m, "f"));
    assertTrue(e.getMessage().contains("f: run metadata lacks 'twicing.run.min_lr'"), e.getMessage());
  }

  @Test
  void builderDefaultsAreTheTrainCommandsDefaults() {
    RunSettings s = RunSettings.builder("vit-fmnist", "fashion-mnist").steps(100).build();
    assertEquals(new RunSettings("vit-fmnist", null, null, "fashion-mnist", null, 64, 1e-3, 1e-5, 0,
        LrSchedule.Kind.COSINE, OptimizerKind.ADAMW, 0.05, 0.9, 0.0, 0.0, 0, 100), s);
    var e = assertThrows(IllegalArgumentException.class, () -> RunSettings.builder("p", "d").build());
    assertTrue(e.getMessage().contains("steps not set"), e.getMessage());
  }
}
