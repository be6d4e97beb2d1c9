package org.twicing.codegen.importer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.codegen.importer.Protos.floats;
import static org.twicing.codegen.importer.Protos.info;
import static org.twicing.codegen.importer.Protos.model;
import static org.twicing.codegen.importer.Protos.node;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;

/** Which imported models can be wrapped for training, and the errors that name what is wrong. */
class ForeignModelTest {
  /** x [batch, 3] -> logits = x W + b [batch, 4], and features = relu(x) [batch, 3]. */
  private static ModelProto twoOutputs() {
    return model(17, List.of(node("MatMul", "mm", List.of("x", "w"), List.of("h")),
        node("Add", "add", List.of("h", "b"), List.of("logits")),
        node("Relu", "relu", List.of("x"), List.of("features"))),
        List.of(info("x", 1, "batch", 3L)), List.of(info("logits", 1), info("features", 1)),
        List.of(floats("w", new long[] {3, 4}, new float[12]), floats("b", new long[] {4}, 1, 2, 3, 4)));
  }

  private static ForeignModel wrap(ModelProto m, ForeignModel.Options o) {
    return ForeignModel.of(OnnxImporter.fromProto(m, null), "tiny.onnx", o, Map.of());
  }

  @Test
  void twoFloatOutputsWithoutLogitsAreRefusedByName() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> wrap(twoOutputs(), ForeignModel.Options.defaults()));
    assertTrue(e.getMessage().contains("'tiny.onnx' has 2 float outputs") && e.getMessage().contains("logits")
        && e.getMessage().contains("features") && e.getMessage().contains("--logits NAME"), e.getMessage());
  }

  @Test
  void anUnknownLogitsNameListsTheOutputs() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> wrap(twoOutputs(), new ForeignModel.Options("scores", null)));
    assertTrue(e.getMessage().contains("--logits 'scores'") && e.getMessage().contains("logits float32[batch, 4]")
        && e.getMessage().contains("features float32[batch, 3]"), e.getMessage());
  }

  @Test
  void chosenLogitsGiveLabelsClassesAndParameters() {
    ForeignModel m = wrap(twoOutputs(), new ForeignModel.Options("logits", null));
    assertEquals("x", m.inputName());
    assertEquals(4, m.classes());
    assertEquals(DType.INT64, m.labelsType().dtype());
    assertEquals(List.of(Dim.sym("batch")), m.labelsType().shape().dims());
    assertEquals(List.of("w", "b"), m.parameters().stream().map(p -> p.name()).toList());
    assertTrue(m.parameters().get(0).decay() && !m.parameters().get(1).decay(), "decay: rank >= 2 only");
    assertEquals(List.of(1.0, 2.0, 3.0, 4.0),
        Arrays.stream(m.weights().get("b").toDoubles()).boxed().toList());
  }

  @Test
  void anyFloatOutputCanBeChosenAsLogits() {
    assertEquals(3, wrap(twoOutputs(), new ForeignModel.Options("features", null)).classes());
  }

  @Test
  void aFrozenPatternThatMatchesNothingIsAnErrorListingTheInitializers() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> wrap(twoOutputs(), new ForeignModel.Options("logits", Pattern.compile("^encoder\\."))));
    assertTrue(e.getMessage().contains("'^encoder\\.'") && e.getMessage().contains("[w, b]"), e.getMessage());
    ForeignModel frozen = wrap(twoOutputs(), new ForeignModel.Options("logits", Pattern.compile("^w$")));
    assertEquals(List.of("w"), frozen.frozen());
    assertEquals(List.of("b"), frozen.parameters().stream().map(p -> p.name()).toList());
  }

  @Test
  void modelsWithSeveralInputsAreRefusedNamingThem() {
    ModelProto m = model(17, List.of(node("Add", "add", List.of("x", "y"), List.of("logits"))),
        List.of(info("x", 1, "batch", 3L), info("y", 1, "batch", 3L)), List.of(info("logits", 1)), List.of());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> wrap(m, ForeignModel.Options.defaults()));
    assertTrue(e.getMessage().contains("2 inputs [x, y]"), e.getMessage());
  }

  @Test
  void logitsMustBeRankTwoOrThreeWithFixedClasses() {
    ModelProto m = model(17, List.of(node("Relu", "r", List.of("x"), List.of("y"))),
        List.of(info("x", 1, "batch")), List.of(info("y", 1)), List.of());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> wrap(m, ForeignModel.Options.defaults()));
    assertTrue(e.getMessage().contains("output 'y'") && e.getMessage().contains("[batch, classes]"),
        e.getMessage());
  }
}
