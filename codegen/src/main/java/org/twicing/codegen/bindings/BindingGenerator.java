package org.twicing.codegen.bindings;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.TypeSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.lang.model.SourceVersion;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.dsl.types.TensorSpec;

/**
 * Generates typed Java bindings for ONNX models with JavaPoet. For a model named {@code vit-fmnist} it writes a
 * class {@code VitFmnist} that loads the model file into ONNX Runtime and has a {@code run} method taking one
 * parameter per graph input, typed by dtype and rank ({@code float[][][][] pixels}), plus an overload on NIO
 * buffers with explicit shapes, and returning a record {@code Output} with one component per graph output. For a
 * model directory with a training step it also writes {@code VitFmnistTrainer}, whose {@code step} method takes a
 * batch and a learning rate and returns the loss.
 *
 * <p>Works for any producer's ONNX file. The class is named after the model's {@code twicing.model} metadata,
 * else its graph name, else the file name. The generated code depends on the twicing runtime module (and so on
 * ONNX Runtime, the runtime's {@code InputCheck}, {@code Signature} and {@code TrainingState}, and
 * {@link TensorSpec}); it compiles without warnings under {@code -Xlint:all}. Results are
 * {@link GeneratedSource} values; JavaPoet stays an implementation detail.
 */
public final class BindingGenerator {
  private final String packageName;

  /** A generator for classes in package {@code packageName} (may be empty: the unnamed package). */
  public BindingGenerator(String packageName) {
    if (!packageName.isEmpty() && !SourceVersion.isName(packageName)) {
      throw new IllegalArgumentException("'" + packageName + "' is not a valid Java package name");
    }
    this.packageName = packageName;
  }

  /** The package generated classes go in. */
  public String packageName() {
    return packageName;
  }

  /**
   * The bindings for ONNX file {@code onnxFile}: the model class, plus its trainer when the file is a
   * {@code model.onnx} with a {@code train_step.onnx} beside it.
   */
  public List<GeneratedSource> generate(Path onnxFile) throws IOException {
    ModelProto model = ModelSummary.readModel(onnxFile);
    String fileName = onnxFile.getFileName().toString();
    String fallback = fileName.toLowerCase(Locale.ROOT).endsWith(".onnx")
        ? fileName.substring(0, fileName.length() - ".onnx".length()) : fileName;
    List<GeneratedSource> out = new ArrayList<>();
    try {
      out.add(binding(model, fallback));
      Path dir = onnxFile.toAbsolutePath().getParent();
      Path step = dir.resolve(ModelArtifacts.TRAIN_STEP);
      if (fileName.equals(ModelArtifacts.MODEL) && Files.isRegularFile(step)) {
        out.add(trainer(model, ModelSummary.readModel(step), fallback));
      }
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(onnxFile + ": " + e.getMessage(), e);
    }
    return out;
  }

  /**
   * The class name for {@code model}: its {@code twicing.model} metadata, else its graph name, else
   * {@code fallbackName} (usually the file name), in UpperCamelCase.
   */
  public static String className(ModelProto model, String fallbackName) {
    String name = JavaNames.typeName(modelName(model, fallbackName));
    // The run method returns a nested record named Output, which a class of the same name could not hold.
    return name.equals("Output") ? "OutputModel" : name;
  }

  /** The model's name as its binding reports it: metadata {@code twicing.model}, graph name or the fallback. */
  static String modelName(ModelProto model, String fallbackName) {
    String meta = ModelSummary.of(model).metadata().get(MetadataKeys.MODEL);
    if (meta != null && !meta.isBlank()) {
      return meta;
    }
    if (!model.getGraph().getName().isBlank()) {
      return model.getGraph().getName();
    }
    return fallbackName == null || fallbackName.isBlank() ? "model" : fallbackName;
  }


  /** The binding class for {@code model}; {@code fallbackName} names it when the model has no name of its own. */
  public GeneratedSource binding(ModelProto model, String fallbackName) {
    return source(bindingFile(model, fallbackName));
  }

  /** {@link #binding} as JavaPoet built it (JavaPoet stays out of the public API). */
  JavaFile bindingFile(ModelProto model, String fallbackName) {
    String modelName = modelName(model, fallbackName);
    ClassName self = ClassName.get(packageName, className(model, fallbackName));
    return file(ModelClass.build(model, modelName, self), modelName, "the model");
  }

  /**
   * The trainer class for {@code model} and its training step {@code trainStep} (as emitted together into one
   * directory by {@code twicing emit}); {@code fallbackName} names it when the model has no name of its own.
   */
  public GeneratedSource trainer(ModelProto model, ModelProto trainStep, String fallbackName) {
    return source(trainerFile(model, trainStep, fallbackName));
  }

  /** {@link #trainer} as JavaPoet built it. */
  JavaFile trainerFile(ModelProto model, ModelProto trainStep, String fallbackName) {
    String modelName = modelName(model, fallbackName);
    String modelClass = className(model, fallbackName);
    ClassName self = ClassName.get(packageName, modelClass + "Trainer");
    return file(TrainerClass.build(model, trainStep, modelName, modelClass, self), modelName,
        "the training step of");
  }

  private static GeneratedSource source(JavaFile f) {
    return new GeneratedSource(f.packageName(), f.typeSpec().name(), f.toString());
  }

  private JavaFile file(TypeSpec type, String modelName, String what) {
    return JavaFile.builder(packageName, type)
        .addFileComment("$L", "Generated by twicing codegen from " + what + " '" + modelName.replace("*/", "* /")
            + "'. Do not edit: regenerate it with 'twicing codegen'.")
        .skipJavaLangImports(true)
        .indent("  ")
        .build();
  }
}
