package org.twicing.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;

/**
 * The generate goal's work: bindings for ONNX files and for a preset land under the package path, compile, and
 * import nothing beyond what twicing-runtime brings; misconfigurations are errors naming the setting.
 */
class BindingsTaskTest {
  @TempDir
  Path tmp;

  private Path microModel(String name) throws IOException {
    VisionTransformer m = new VisionTransformer(VisionTransformer.Config.builder(name).imageSize(8).channels(1).patch(4)
        .classes(3).dim(16).depth(1).heads(2).mlp(32).attention(List.of(AttentionKind.TWICING)).build());
    Path dir = Files.createDirectories(tmp.resolve(name));
    ModelArtifacts.writeAll(m, StateDict.initialize(m, 0), TrainingSpec.defaults(), dir, EmitOptions.defaults());
    return dir.resolve(ModelArtifacts.MODEL);
  }

  private static void assertCompilesWithRuntimeImportsOnly(List<Path> sources, Path classes) throws IOException {
    for (Path p : sources) {
      for (String line : Files.readAllLines(p, StandardCharsets.UTF_8)) {
        if (line.startsWith("import ")) {
          // twicing-runtime brings ONNX Runtime, twicing-codegen and twicing-dsl; not the zoo, JavaPoet or picocli.
          String what = line.substring("import ".length()).replace("static ", "");
          assertTrue(what.startsWith("java.") || what.startsWith("ai.onnxruntime.")
              || what.startsWith("org.twicing.runtime.") || what.startsWith("org.twicing.codegen.")
              || what.startsWith("org.twicing.dsl."),
              p.getFileName() + " imports " + what + " which twicing-runtime does not bring");
        }
      }
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    StringWriter out = new StringWriter();
    boolean ok;
    try (StandardJavaFileManager fm = javac.getStandardFileManager(diagnostics, Locale.ROOT,
        StandardCharsets.UTF_8)) {
      List<String> options = List.of("-Xlint:all", "-Werror", "-classpath", System.getProperty("java.class.path"),
          "-d", Files.createDirectories(classes).toString());
      ok = javac.getTask(out, fm, diagnostics, options, null,
          fm.getJavaFileObjectsFromFiles(sources.stream().map(Path::toFile).toList())).call();
    }
    assertTrue(ok, "generated bindings do not compile:\n" + diagnostics.getDiagnostics().stream()
        .map(d -> d.getMessage(Locale.ROOT)).collect(Collectors.joining("\n")) + out);
  }

  @Test
  void onnxFilesGetTheirClassAndTrainerUnderThePackagePath() throws IOException {
    Path out = tmp.resolve("generated");
    List<Path> written = new BindingsTask("com.example.nets", List.of(microModel("vit-micro")), null, null, null, 0,
        out, tmp.resolve("models")).run();
    assertEquals(List.of(out.resolve("com/example/nets/VitMicro.java"),
        out.resolve("com/example/nets/VitMicroTrainer.java")), written);
    assertCompilesWithRuntimeImportsOnly(written, tmp.resolve("classes"));
  }

  @Test
  void aPresetIsEmittedWithItsTrainingGraphsAndBound() throws IOException {
    Path out = tmp.resolve("generated");
    Path models = tmp.resolve("models");
    List<Path> written = new BindingsTask("p", List.of(), "vit-fmnist", "softmax", "none", 3, out, models).run();
    assertEquals(List.of(out.resolve("p/VitFmnist.java"), out.resolve("p/VitFmnistTrainer.java")), written);
    for (String f : List.of(ModelArtifacts.MODEL, ModelArtifacts.GRADS, ModelArtifacts.TRAIN_STEP)) {
      assertTrue(Files.isRegularFile(models.resolve("vit-fmnist").resolve(f)), f + " emitted for the preset");
    }
    assertCompilesWithRuntimeImportsOnly(written, tmp.resolve("classes"));
  }

  @Test
  void misconfigurationsAreErrorsNamingTheSetting() throws IOException {
    Path out = tmp.resolve("generated");
    Path models = tmp.resolve("models");
    IllegalArgumentException nothing = assertThrows(IllegalArgumentException.class,
        () -> new BindingsTask("p", List.of(), null, null, null, 0, out, models));
    assertTrue(nothing.getMessage().contains("<onnxFiles>") && nothing.getMessage().contains("<preset>"),
        nothing.getMessage());
    IllegalArgumentException options = assertThrows(IllegalArgumentException.class,
        () -> new BindingsTask("p", List.of(Path.of("m.onnx")), null, "softmax", null, 0, out, models));
    assertTrue(options.getMessage().contains("<attention>"), options.getMessage());
    Path missing = tmp.resolve("absent.onnx");
    IllegalArgumentException absent = assertThrows(IllegalArgumentException.class,
        () -> new BindingsTask("p", List.of(missing), null, null, null, 0, out, models).run());
    assertTrue(absent.getMessage().contains(missing + " does not exist"), absent.getMessage());
    Path a = microModel("same-name");
    Path copy = Files.createDirectories(tmp.resolve("copy")).resolve("other.onnx");
    Files.copy(a, copy);
    IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
        () -> new BindingsTask("p", List.of(a, copy), null, null, null, 0, out, models).run());
    assertTrue(twice.getMessage().contains("both bind to class p.SameName"), twice.getMessage());
    IllegalArgumentException preset = assertThrows(IllegalArgumentException.class,
        () -> new BindingsTask("p", List.of(), "vit-huge", null, null, 0, out, models).run());
    assertTrue(preset.getMessage().contains("vit-huge"), preset.getMessage());
    assertEquals(false, new File(out.toString()).exists(), "nothing written when the configuration is wrong");
  }
}
