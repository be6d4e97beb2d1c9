package org.twicing.codegen.emit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;

/**
 * The obvious ways to emit a training step give a trainable file: parameters and optimizer state are graph inputs
 * (the train_step.onnx contract), and emitting one with parameters baked in as initializers is refused.
 */
class TrainStepEmissionTest {
  private static VisionTransformer microVit() {
    return new VisionTransformer(VisionTransformer.Config.builder("vit-micro").imageSize(8).channels(1).patch(4)
        .classes(3).dim(16).depth(1).heads(2).mlp(32).attention(List.of(AttentionKind.TWICING)).build());
  }

  /** The contract's inputs, built from the model's parameter list and the optimizer's state names. */
  private static Set<String> contractInputs(VisionTransformer m, TrainingSpec spec) {
    Set<String> want = new TreeSet<>(List.of(m.inputName(), TrainingGraphs.LABELS, TrainingGraphs.LR,
        TrainingGraphs.STEP));
    for (Param p : m.parameters()) {
      want.add(p.name());
      for (String s : spec.optimizer().stateNames()) {
        want.add(p.name() + "." + s);
      }
    }
    return want;
  }

  private static Set<String> names(List<ValueInfoProto> infos) {
    Set<String> s = new TreeSet<>();
    infos.forEach(i -> s.add(i.getName()));
    return s;
  }

  @Test
  void emittingATrainingStepWithParametersAsInitializersIsRefusedWithTheFix() {
    VisionTransformer m = microVit();
    var step = TrainingGraphs.trainStep(m, StateDict.initialize(m, 0), TrainingSpec.defaults());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OnnxEmitter.emit(step, EmitOptions.defaults()));
    assertTrue(e.getMessage().contains("EmitOptions.training()"), e.getMessage());
    assertTrue(e.getMessage().contains("ModelArtifacts.writeAll"), e.getMessage());
    assertTrue(m.parameters().stream().anyMatch(p -> e.getMessage().contains("'" + p.name() + ".next'")),
        "names the update output: " + e.getMessage());
  }

  @Test
  void trainStepModelTakesEveryParameterAndStateAsAnInputEvenFromDefaultOptions() {
    VisionTransformer m = microVit();
    TrainingSpec spec = TrainingSpec.defaults();
    ModelProto step = ModelArtifacts.trainStepModel(m, StateDict.initialize(m, 0), spec, EmitOptions.defaults());
    Set<String> want = contractInputs(m, spec);
    assertEquals(want, names(step.getGraph().getInputList()));
    assertEquals(0, step.getGraph().getInitializerCount(), "no parameter may be baked in");
    Set<String> wantOutputs = new TreeSet<>(List.of("loss"));
    Set<String> fed = Set.of(m.inputName(), TrainingGraphs.LABELS, TrainingGraphs.LR, TrainingGraphs.STEP);
    want.stream().filter(n -> !fed.contains(n)).forEach(n -> wantOutputs.add(n + ".next"));
    assertEquals(wantOutputs, names(step.getGraph().getOutputList()));
  }

  @Test
  void trainingOptionsEmitTheSameModelAsTrainStepModel() {
    VisionTransformer m = microVit();
    StateDict w = StateDict.initialize(m, 0);
    TrainingSpec spec = TrainingSpec.defaults();
    ModelProto viaOptions = OnnxEmitter.emit(TrainingGraphs.trainStep(m, w, spec), EmitOptions.training());
    assertEquals(ModelArtifacts.trainStepModel(m, w, spec, EmitOptions.defaults()), viaOptions);
  }

  @Test
  void gradientsWithFixedWeightsMayStillBeEmittedAsInitializers() {
    // grads.onnx with baked weights is a real use (input gradients for adversarial examples), so only the
    // training step, whose X.next outputs must be fed back, is refused.
    VisionTransformer m = microVit();
    StateDict w = StateDict.initialize(m, 0);
    ModelProto g = OnnxEmitter.emit(TrainingGraphs.grads(m, w, TrainingSpec.defaults()), EmitOptions.defaults());
    assertEquals(m.parameters().size(), g.getGraph().getInitializerCount());
    ModelProto asInputs = ModelArtifacts.gradsModel(m, w, TrainingSpec.defaults(), EmitOptions.defaults());
    assertEquals(0, asInputs.getGraph().getInitializerCount());
    assertTrue(names(asInputs.getGraph().getInputList()).containsAll(
        m.parameters().stream().map(Param::name).toList()));
  }

  @Test
  void writeAllWritesTheSameTrainStepAsTrainStepModel() throws IOException {
    VisionTransformer m = microVit();
    StateDict w = StateDict.initialize(m, 3);
    Path dir = Files.createTempDirectory("twicing-emit");
    try {
      ModelArtifacts.writeAll(m, w, TrainingSpec.defaults(), dir, EmitOptions.defaults());
      assertArrayEquals(ModelArtifacts.trainStepModel(m, w, TrainingSpec.defaults(), EmitOptions.defaults())
          .toByteArray(), Files.readAllBytes(dir.resolve(ModelArtifacts.TRAIN_STEP)));
    } finally {
      try (var files = Files.list(dir)) {
        for (Path f : files.toList()) {
          Files.delete(f);
        }
      }
      Files.delete(dir);
    }
  }
}
