package org.twicing.maven;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.twicing.codegen.bindings.BindingGenerator;
import org.twicing.codegen.bindings.GeneratedSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;

/**
 * What the {@code generate} goal does, without Maven types so it can be tested directly: binds each ONNX file, and
 * a zoo preset when one is named (its model.onnx, grads.onnx and train_step.onnx are emitted into the model
 * directory first, so the preset also gets a trainer class), writing the sources under the output directory.
 */
public record BindingsTask(String packageName, List<Path> onnxFiles, String preset, String attention,
    String twicingLayers, long seed, Path outputDirectory, Path modelDirectory) {
  /** Validates that there is something to bind and somewhere to write it. */
  public BindingsTask {
    Objects.requireNonNull(packageName, "packageName: the Java package of the generated classes");
    onnxFiles = List.copyOf(onnxFiles == null ? List.of() : onnxFiles);
    Objects.requireNonNull(outputDirectory, "outputDirectory");
    Objects.requireNonNull(modelDirectory, "modelDirectory");
    if (onnxFiles.isEmpty() && (preset == null || preset.isBlank())) {
      throw new IllegalArgumentException("nothing to bind: set <onnxFiles> (ONNX files) or <preset> (one of "
          + Zoo.PRESETS + ")");
    }
    if ((preset == null || preset.isBlank()) && (attention != null || twicingLayers != null)) {
      throw new IllegalArgumentException("<attention> and <twicingLayers> configure a <preset>; ONNX files are bound"
          + " as they are");
    }
  }

  /** Generates and writes the bindings; returns the source files written, in order. */
  public List<Path> run() throws IOException {
    BindingGenerator generator = new BindingGenerator(packageName);
    Map<String, GeneratedSource> byName = new LinkedHashMap<>();
    Map<String, Path> origin = new LinkedHashMap<>();
    List<Path> inputs = new ArrayList<>();
    for (Path f : onnxFiles) {
      if (!Files.isRegularFile(f)) {
        throw new IllegalArgumentException("<onnxFiles>: " + f + (Files.exists(f) ? " is not a regular file"
            : " does not exist"));
      }
      inputs.add(f);
    }
    if (preset != null && !preset.isBlank()) {
      inputs.add(emitPreset());
    }
    for (Path f : inputs) {
      for (GeneratedSource s : generator.generate(f)) {
        Path before = origin.putIfAbsent(s.qualifiedName(), f);
        if (before != null) {
          throw new IllegalArgumentException(f + " and " + before + " both bind to class " + s.qualifiedName()
              + ": models need different names (metadata twicing.model, else the graph name)");
        }
        byName.put(s.qualifiedName(), s);
      }
    }
    Files.createDirectories(outputDirectory);
    List<Path> written = new ArrayList<>();
    for (GeneratedSource s : byName.values()) {
      written.add(s.writeTo(outputDirectory));
    }
    return written;
  }

  /** The preset's model.onnx, emitted (with its training graphs) into {@code modelDirectory/<preset>/}. */
  private Path emitPreset() throws IOException {
    PresetOptions options = PresetOptions.defaults();
    if (attention != null) {
      options = options.withAttention(attention);
    }
    if (twicingLayers != null) {
      options = options.withTwicingLayers(twicingLayers);
    }
    TaskModel model = Zoo.build(preset, options);
    Path dir = Files.createDirectories(modelDirectory.resolve(preset));
    ModelArtifacts.writeAll(model, StateDict.initialize(model, seed), TrainingSpec.defaults(), dir,
        EmitOptions.defaults());
    return dir.resolve(ModelArtifacts.MODEL);
  }
}
