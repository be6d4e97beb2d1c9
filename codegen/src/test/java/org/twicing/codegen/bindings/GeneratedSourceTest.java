package org.twicing.codegen.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;

/**
 * The generator's public face: sources as plain values (package, name, text) that write themselves under the
 * package path, and no JavaPoet type in any public signature.
 */
class GeneratedSourceTest {
  @TempDir
  Path tmp;

  @Test
  void sourcesHoldTheJavaPoetTextAndWriteThemselvesUnderThePackagePath() throws IOException {
    VisionTransformer m = BindingGeneratorTest.microVit();
    Path dir = Files.createDirectories(tmp.resolve("model"));
    ModelArtifacts.writeAll(m, StateDict.initialize(m, 1), TrainingSpec.defaults(), dir, EmitOptions.defaults());
    BindingGenerator g = new BindingGenerator("com.example.models");
    List<GeneratedSource> sources = g.generate(dir.resolve(ModelArtifacts.MODEL));
    assertEquals(List.of("com.example.models.VitMicro", "com.example.models.VitMicroTrainer"),
        sources.stream().map(GeneratedSource::qualifiedName).toList());
    var model = ModelArtifacts.inferenceModel(m, StateDict.initialize(m, 1), null, EmitOptions.defaults());
    assertEquals(g.bindingFile(model, "x").toString(), g.binding(model, "x").text());
    Path root = tmp.resolve("src");
    for (GeneratedSource s : sources) {
      Path written = s.writeTo(root);
      assertEquals(root.resolve("com/example/models/" + s.simpleName() + ".java"), written);
      assertEquals(s.text(), Files.readString(written, StandardCharsets.UTF_8));
      assertTrue(s.text().contains("public final class " + s.simpleName()), s.simpleName());
    }
  }

  @Test
  void noPublicSignatureOfTheGeneratorMentionsJavaPoet() {
    for (Method method : BindingGenerator.class.getDeclaredMethods()) {
      if (!Modifier.isPublic(method.getModifiers())) {
        continue;
      }
      assertTrue(!method.toGenericString().contains("javapoet"), "public " + method.toGenericString());
    }
  }
}
