package org.twicing.codegen.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.palantir.javapoet.JavaFile;
import java.io.IOException;
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

/** The JavaPoet-free view of the bindings: the same text as the JavaPoet files, written under the package path. */
class GeneratedSourceTest {
  @TempDir
  Path tmp;

  @Test
  void sourcesHoldTheGeneratedFilesAndWriteThemUnderThePackagePath() throws IOException {
    VisionTransformer m = BindingGeneratorTest.microVit();
    Path dir = Files.createDirectories(tmp.resolve("model"));
    ModelArtifacts.writeAll(m, StateDict.initialize(m, 1), TrainingSpec.defaults(), dir, EmitOptions.defaults());
    BindingGenerator g = new BindingGenerator("com.example.models");
    List<JavaFile> poet = g.generate(dir.resolve(ModelArtifacts.MODEL));
    List<GeneratedSource> sources = g.sources(dir.resolve(ModelArtifacts.MODEL));
    assertEquals(List.of("com.example.models.VitMicro", "com.example.models.VitMicroTrainer"),
        sources.stream().map(GeneratedSource::qualifiedName).toList());
    Path root = tmp.resolve("src");
    for (int i = 0; i < sources.size(); i++) {
      assertEquals(poet.get(i).toString(), sources.get(i).text());
      Path written = sources.get(i).writeTo(root);
      assertEquals(root.resolve("com/example/models/" + poet.get(i).typeSpec().name() + ".java"), written);
      assertEquals(poet.get(i).toString(), Files.readString(written, StandardCharsets.UTF_8));
    }
  }
}
