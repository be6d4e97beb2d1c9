package org.twicing.codegen.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.palantir.javapoet.NameAllocator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TypeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.codegen.onnx.OnnxProtos;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorType;

/** The generated sources (golden files), naming, and what the generator refuses. */
class BindingGeneratorTest {
  /** Golden files, relative to the codegen module (Surefire's working directory). */
  private static final Path GOLDEN = Path.of("src/test/resources/bindings");
  /** Set to true to rewrite the golden files from the current generator instead of comparing. */
  private static final boolean UPDATE = Boolean.getBoolean("twicing.updateGolden");

  /** A one-block ViT on 8x8 single-channel images with three classes: small, with every kind of metadata. */
  static VisionTransformer microVit() {
    return new VisionTransformer(new VisionTransformer.Config("vit-micro", 8, 1, 4, 3, 16, 1, 2, 32, 1e-6, true,
        List.of(AttentionKind.TWICING), 0.0));
  }

  @Test
  void modelBindingMatchesGoldenFile() throws IOException {
    VisionTransformer m = microVit();
    ModelProto model = ModelArtifacts.inferenceModel(m, StateDict.initialize(m, 0), null, EmitOptions.defaults());
    GeneratedSource file = new BindingGenerator("com.example.models").binding(model, "ignored");
    assertEquals("VitMicro", file.simpleName());
    assertGolden("VitMicro.java.txt", file.text());
  }

  @Test
  void trainerMatchesGoldenFile() throws IOException {
    VisionTransformer m = microVit();
    StateDict w = StateDict.initialize(m, 0);
    ModelProto model = ModelArtifacts.inferenceModel(m, w, null, EmitOptions.defaults());
    ModelProto step = OnnxEmitter.emit(TrainingGraphs.trainStep(m, w, TrainingSpec.defaults()),
        EmitOptions.builder().parametersAsInputs(true).build());
    GeneratedSource file = new BindingGenerator("com.example.models").trainer(model, step, "ignored");
    assertEquals("VitMicroTrainer", file.simpleName());
    assertGolden("VitMicroTrainer.java.txt", file.text());
  }

  @Test
  void generateReadsTheDirectoryAndAddsTheTrainerBesideATrainingStep() throws IOException {
    Path dir = Files.createTempDirectory("twicing-bindings");
    try {
      VisionTransformer m = microVit();
      ModelArtifacts.writeAll(m, StateDict.initialize(m, 1), TrainingSpec.defaults(), dir, EmitOptions.defaults());
      List<GeneratedSource> files = new BindingGenerator("p").generate(dir.resolve(ModelArtifacts.MODEL));
      assertEquals(List.of("VitMicro", "VitMicroTrainer"), files.stream().map(GeneratedSource::simpleName).toList());
      // Another file name in the same directory is not the model the training step belongs to.
      Files.copy(dir.resolve(ModelArtifacts.MODEL), dir.resolve("copy.onnx"));
      assertEquals(1, new BindingGenerator("p").generate(dir.resolve("copy.onnx")).size());
    } finally {
      try (var s = Files.walk(dir)) {
        s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Test
  void classNamesComeFromMetadataThenGraphNameThenFileName() {
    ModelProto.Builder m = ModelProto.newBuilder();
    m.getGraphBuilder().setName("torch_jit");
    assertEquals("TorchJit", BindingGenerator.className(m.build(), "tiny"));
    m.addMetadataProps(StringStringEntryProto.newBuilder().setKey("twicing.model").setValue("vit-fmnist"));
    assertEquals("VitFmnist", BindingGenerator.className(m.build(), "tiny"));
    ModelProto unnamed = ModelProto.newBuilder().setGraph(m.getGraph().toBuilder().setName("")).build();
    assertEquals("MyTinyNet", BindingGenerator.className(unnamed, "my_tiny-net"));
    assertEquals("Model", BindingGenerator.className(unnamed, "..."));
  }

  @Test
  void namesAreSanitisedToIdiomaticJava() {
    assertEquals("VitFmnist", JavaNames.typeName("vit-fmnist"));
    assertEquals("LmTiny", JavaNames.typeName("lm-tiny"));
    assertEquals("Resnet50V15", JavaNames.typeName("resnet50-v1.5"));
    assertEquals("Model3dUnet", JavaNames.typeName("3d unet"));
    assertEquals("BertBaseUncased", JavaNames.typeName("BERT base_uncased"));
    assertEquals("inputIds", JavaNames.memberName("input_ids", "input"));
    assertEquals("input1", JavaNames.memberName("input.1", "input"));
    assertEquals("hiddenState", JavaNames.memberName("hidden.state", "output"));
    assertEquals("url", JavaNames.memberName("URL", "input"));
    assertEquals("pixelValues", JavaNames.memberName("pixelValues", "input"));
    assertEquals("classInput", JavaNames.memberName("class", "input"));
    assertEquals("hashCodeOutput", JavaNames.memberName("hashCode", "output"));
    assertEquals("input0", JavaNames.memberName("0", "input"));
    assertEquals("input", JavaNames.memberName(":", "input"));
    assertEquals("INPUT_IDS", JavaNames.constantName("inputIds"));
    assertEquals("INPUT_1", JavaNames.constantName("input1"));
    NameAllocator a = JavaNames.allocator("check");
    assertEquals("check_", a.newName("check"));
    assertEquals("x", a.newName("x"));
    assertEquals("x_", a.newName("x"));
  }

  @Test
  void modelClassNamedOutputIsRenamedSinceItHoldsTheOutputRecord() {
    ModelProto.Builder m = ModelProto.newBuilder();
    m.getGraphBuilder().setName("output");
    assertEquals("OutputModel", BindingGenerator.className(m.build(), "x"));
  }

  @Test
  void inputsWithoutShapeOrJavaArrayTypeAreRefused() {
    ModelProto.Builder m = ModelProto.newBuilder();
    m.getGraphBuilder().setName("g").addInput(ValueInfoProto.newBuilder().setName("x")
        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1))));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new BindingGenerator("p").binding(m.build(), "g"));
    assertTrue(e.getMessage().contains("input 'x' declares no shape"), e.getMessage());

    ModelProto half = ModelProto.newBuilder().setGraph(m.getGraphBuilder().clearInput()
        .addInput(OnnxEmitter.valueInfo("h", TensorType.of(DType.FLOAT16, 2)))).build();
    e = assertThrows(IllegalArgumentException.class, () -> new BindingGenerator("p").binding(half, "g"));
    assertTrue(e.getMessage().contains("input 'h' is float16"), e.getMessage());

    ModelProto uint8 = ModelProto.newBuilder().setGraph(m.getGraphBuilder().clearInput()
        .addInput(ValueInfoProto.newBuilder().setName("u").setType(TypeProto.newBuilder().setTensorType(
            TypeProto.Tensor.newBuilder().setElemType(2).setShape(
                OnnxProtos.TensorShapeProto.getDefaultInstance()))))).build();
    e = assertThrows(IllegalArgumentException.class, () -> new BindingGenerator("p").binding(uint8, "g"));
    assertTrue(e.getMessage().contains("input 'u' has ONNX element type UINT8"), e.getMessage());

    assertThrows(IllegalArgumentException.class, () -> new BindingGenerator("not a.package"));
  }

  @Test
  void javadocTextIsEscapedAndWrapped() {
    assertEquals("{@code [batch, 1, 28, 28]}", JavadocText.code("[batch, 1, 28, 28]"));
    assertEquals("<code>a&#47;*&#64;b&#123;c&#125;&lt;d&gt;</code>", JavadocText.code("a/*@b{c}<d>"));
    String doc = JavadocText.javadoc("word ".repeat(40).strip(), "@param x " + "long ".repeat(30).strip());
    for (String line : doc.split("\n")) {
      assertTrue(line.length() <= 93, line);
    }
    assertTrue(doc.contains("\n\n@param x"), doc);
    assertTrue(doc.contains("\n    long"), doc);
  }

  private static void assertGolden(String name, String actual) throws IOException {
    Path file = GOLDEN.resolve(name);
    if (UPDATE) {
      Files.createDirectories(GOLDEN);
      Files.writeString(file, actual, StandardCharsets.UTF_8);
      return;
    }
    assertTrue(Files.isRegularFile(file), file.toAbsolutePath() + " is missing; create it by running this test "
        + "with -Dtwicing.updateGolden=true");
    assertEquals(Files.readString(file, StandardCharsets.UTF_8), actual, "generated source differs from " + file
        + "; if the change is intended, rerun with -Dtwicing.updateGolden=true and review the diff");
  }
}
