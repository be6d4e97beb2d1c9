package org.twicing.tests.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.tests.bindings.GeneratedCode.call;
import static org.twicing.tests.bindings.GeneratedCode.callStatic;
import static org.twicing.tests.bindings.GeneratedCode.get;
import static org.twicing.tests.bindings.GeneratedCode.types;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.bindings.BindingGenerator;
import org.twicing.codegen.bindings.GeneratedSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.bindings.TrainingState;
import org.twicing.runtime.train.Checkpoint;

/**
 * The generated trainer of a tiny ViT: steps reduce the loss on a fixed batch, a checkpoint resumes exactly where
 * training was, and the exported model.onnx computes what the trainer's current weights compute.
 */
class GeneratedTrainerTest {
  private static final Class<?>[] STEP = types(float[][][][].class, long[].class, float.class);

  @TempDir
  Path tmp;

  @Test
  void stepsCheckpointsAndExport() throws Throwable {
    VisionTransformer vit = new VisionTransformer(new VisionTransformer.Config("vit-micro", 8, 1, 4, 3, 16, 1, 2,
        32, 1e-6, true, List.of(AttentionKind.TWICING), 0.0));
    Path dir = tmp.resolve("vit-micro");
    ModelArtifacts.writeAll(vit, StateDict.initialize(vit, 0), TrainingSpec.defaults(), dir, EmitOptions.defaults());
    List<GeneratedSource> files = new BindingGenerator("gen.micro").generate(dir.resolve(ModelArtifacts.MODEL));
    float[][][][] pixels = GeneratedBindingsTest.randomFloats(new Random(5), 6, 1, 8, 8);
    long[] labels = {0, 1, 2, 2, 1, 0};

    try (GeneratedCode code = GeneratedCode.compile(files, tmp.resolve("build"))) {
      Class<?> trainerType = code.type("VitMicroTrainer");
      Object trainer = callStatic(trainerType, "load", types(Path.class), dir);
      try (AutoCloseable closing = (AutoCloseable) trainer) {
        float[] losses = new float[3];
        for (int i = 0; i < 3; i++) {
          losses[i] = (float) call(trainer, "step", STEP, pixels, labels, 1e-2f);
        }
        assertEquals(3L, get(trainer, "steps"));
        assertTrue(losses[0] > losses[1] && losses[1] > losses[2], "loss did not fall: " + Arrays.toString(losses));

        Path checkpoint = tmp.resolve("ckpt/step3.safetensors");
        call(trainer, "save", types(Path.class), checkpoint);
        // The runtime's checkpoint format, with the spec of the training step that wrote it.
        Checkpoint written = Checkpoint.read(checkpoint);
        assertEquals(3, written.step());
        assertEquals("vit-micro", written.modelName());
        assertEquals(TrainingSpec.defaults(), written.trainingSpec());
        Path otherSpec = tmp.resolve("vit-micro-wd");
        ModelArtifacts.writeAll(vit, StateDict.initialize(vit, 0), new TrainingSpec(CrossEntropy.defaults(),
            new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.01), 0.0, 0), otherSpec, EmitOptions.defaults());
        IOException refused = assertThrows(IOException.class,
            () -> callStatic(trainerType, "load", types(Path.class, Path.class), otherSpec, checkpoint));
        assertTrue(refused.getMessage().startsWith(checkpoint.toString())
            && refused.getMessage().contains("weight_decay=0.01"), refused.getMessage());
        Object resumed = callStatic(trainerType, "load", types(Path.class, Path.class), dir, checkpoint);
        try (AutoCloseable closingResumed = (AutoCloseable) resumed) {
          assertEquals(3L, get(resumed, "steps"));
          assertSameState((TrainingState) get(trainer, "state"), (TrainingState) get(resumed, "state"));
          float next = (float) call(trainer, "step", STEP, pixels, labels, 1e-2f);
          float nextResumed = (float) call(resumed, "step", STEP, pixels, labels, 1e-2f);
          assertEquals(Float.floatToIntBits(next), Float.floatToIntBits(nextResumed));
          assertTrue(next < losses[2], "loss did not fall on step 4: " + next + " after " + losses[2]);
          assertSameState((TrainingState) get(trainer, "state"), (TrainingState) get(resumed, "state"));
        }

        // The exported file holds the trained weights: it computes what a model emitted afresh from the
        // trainer's current parameters computes, and no longer what the initial model.onnx computes.
        Path exported = tmp.resolve("exported/model.onnx");
        call(trainer, "export", types(Path.class), exported);
        TrainingState state = (TrainingState) get(trainer, "state");
        StateDict trained = StateDict.load(vit, state.parameterTensors(), "the trainer");
        byte[] reference = ModelArtifacts.inferenceModel(vit, trained, null, EmitOptions.defaults()).toByteArray();
        float[] expected;
        float[] initial;
        try (ModelSession ref = ModelSession.open(reference);
            ModelSession before = ModelSession.open(dir.resolve(ModelArtifacts.MODEL))) {
          expected = GeneratedBindingsTest.run(ref, Map.of("pixels", pixels)).get("logits");
          initial = GeneratedBindingsTest.run(before, Map.of("pixels", pixels)).get("logits");
        }
        Object model = callStatic(code.type("VitMicro"), "load", types(Path.class), exported);
        try (AutoCloseable closingModel = (AutoCloseable) model) {
          Object out = call(model, "run", types(float[][][][].class), (Object) pixels);
          float[] logits = (float[]) GeneratedBindingsTest.flatten(get(out, "logits"));
          assertArrayEquals(expected, logits);
          assertFalse(Arrays.equals(initial, logits), "export wrote the initial weights");
        }
        assertTrue(Files.isRegularFile(exported));
      }
    }
  }

  private static void assertSameState(TrainingState a, TrainingState b) {
    assertEquals(a.names(), b.names());
    assertEquals(a.steps(), b.steps());
    for (String name : a.names()) {
      assertArrayEquals(a.values(name), b.values(name), name);
    }
  }
}
