package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.tests.support.OnnxChecker;

/** External-data storage loads and computes the same as inline storage; dropout masks follow their seed. */
class StorageAndDropoutTest {
  @Test
  void externalDataModelMatchesInlineModel(@TempDir Path dir) throws Exception {
    TaskModel m = Zoo.build("vit-fmnist", PresetOptions.defaults());
    StateDict w = StateDict.initialize(m, 5);
    var proto = ModelArtifacts.inferenceModel(m, w, null, EmitOptions.defaults());
    Path inline = dir.resolve("inline/model.onnx");
    Path external = dir.resolve("external/model.onnx");
    ModelWriter.write(proto, inline);
    ModelWriter.write(proto, external, 4096);
    assertTrue(Files.exists(dir.resolve("external/model.onnx.data")));
    assertTrue(Files.size(external) < Files.size(inline) / 10, "weights moved out of the protobuf");
    ModelSummary s = ModelSummary.read(external);
    assertEquals(m.parameterCount(), s.parameterCount());
    assertEquals(ModelSummary.read(inline).parameterBytes(), s.parameterBytes());
    Tensor pixels = Tensor.randn(DType.FLOAT32, new Random(2), 1.0, 3, 1, 28, 28);
    try (ModelSession a = ModelSession.open(inline); ModelSession b = ModelSession.open(external)) {
      assertArrayEquals(a.runHost(Map.of("pixels", pixels)).get("logits").toDoubles(),
          b.runHost(Map.of("pixels", pixels)).get("logits").toDoubles(), 0.0);
    }
  }

  @Test
  void dropoutMasksAreReproducibleFromTheSeed() throws Exception {
    TaskModel m = Zoo.build("lm-tiny", PresetOptions.defaults().withDropout(0.2));
    StateDict w = StateDict.initialize(m, 1);
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    double[] tok = new double[2 * 16];
    Random rng = new Random(3);
    for (int i = 0; i < tok.length; i++) {
      tok[i] = rng.nextInt(256);
    }
    feeds.put("tokens", new Tensor(DType.INT64, new long[] {2, 16}, tok));
    feeds.put("labels", new Tensor(DType.INT64, new long[] {2, 16}, tok.clone()));
    for (Param p : m.parameters()) {
      feeds.put(p.name(), w.get(p.name()));
    }
    byte[] seed0 = grads(m, w, 0);
    OnnxChecker.check(seed0);
    double a = loss(seed0, feeds);
    double b = loss(grads(m, w, 0), feeds);
    double c = loss(grads(m, w, 1), feeds);
    assertEquals(a, b, 0.0, "same seed, fresh session: same masks, same loss");
    assertNotEquals(a, c, "another seed draws other masks");
  }

  private static byte[] grads(TaskModel m, StateDict w, long seed) {
    TrainingSpec spec = TrainingSpec.defaults();
    spec = new TrainingSpec(spec.loss(), spec.optimizer(), 0, seed);
    return OnnxEmitter.emit(TrainingGraphs.grads(m, w, spec), EmitOptions.builder().parametersAsInputs(true).build())
        .toByteArray();
  }

  private static double loss(byte[] model, Map<String, Tensor> feeds) throws Exception {
    try (ModelSession s = ModelSession.open(model)) {
      return s.runHost(feeds).get("loss").get(0);
    }
  }
}
