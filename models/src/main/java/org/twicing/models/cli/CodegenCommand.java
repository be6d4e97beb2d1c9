package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.twicing.codegen.bindings.BindingGenerator;
import org.twicing.codegen.bindings.GeneratedSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code twicing codegen}: generates typed Java bindings (a class with {@code load} and {@code run}, and a trainer
 * when training graphs are at hand) for a zoo preset or any ONNX file.
 */
@Command(
    name = "codegen",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    description = {"Generate typed Java bindings for a model.", "",
        "Writes DIR/<package path>/<Name>.java, a class that loads the model into ONNX Runtime and runs it with "
            + "one typed parameter per input (float[][][][] pixels, long[][] tokens) and a record of typed "
            + "outputs; Name is the model name in UpperCamelCase (vit-fmnist: VitFmnist). With --with-model the "
            + "preset's model.onnx, grads.onnx and train_step.onnx are written beside it together with "
            + "<Name>Trainer.java. With --onnx, any producer's file is bound, plus a trainer when it is a "
            + "model.onnx with a train_step.onnx beside it.", "",
        "Compile the sources with: javac -cp \"$(twicing classpath)\" ..."})
public final class CodegenCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  /** Where the model comes from: a zoo preset or an ONNX file. */
  static final class Source {
    @Option(names = "--model", paramLabel = "PRESET", description = "A zoo preset: ${COMPLETION-CANDIDATES}.",
        completionCandidates = Presets.class)
    String preset;

    @Option(names = "--onnx", paramLabel = "FILE.onnx", description = "An ONNX model file from any producer.")
    Path onnx;
  }

  /** The preset names, for the help text. */
  static final class Presets extends ArrayList<String> {
    private static final long serialVersionUID = 1L;

    Presets() {
      super(Zoo.PRESETS);
    }
  }

  @Option(names = "--attention", paramLabel = "KIND",
      description = "Attention kind of the twicing layers (softmax, twicing, twicingK); --model only.")
  Optional<String> attention;

  @Option(names = "--twicing-layers", paramLabel = "LAYERS",
      description = "Which layers use twicing attention: all, none, last:K or i,j,...; --model only.")
  Optional<String> twicingLayers;

  @Option(names = "--seed", paramLabel = "N", description = "Seed of the initial weights (default: 0); --model only.")
  Optional<Long> seed;

  @Option(names = "--package", paramLabel = "PKG", required = true,
      description = "Java package of the generated classes, e.g. com.example.models.")
  String packageName;

  @Option(names = "--out", paramLabel = "DIR", required = true,
      description = "Source root to write into; the files go to DIR/<package path>/.")
  Path out;

  @Option(names = "--with-model", description = "Also write the preset's model files (model.onnx, grads.onnx, "
      + "train_step.onnx) beside the sources, and the trainer class; --model only.")
  boolean withModel;

  /** Generates the bindings and prints the path of every file written. */
  @Override
  public Integer call() {
    BindingGenerator generator;
    try {
      generator = new BindingGenerator(packageName);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--package: " + e.getMessage());
    }
    Path dir = packageName.isEmpty() ? out : out.resolve(packageName.replace('.', '/'));
    List<GeneratedSource> files;
    List<Path> written = new ArrayList<>();
    try {
      if (source.onnx != null) {
        if (withModel || attention.isPresent() || twicingLayers.isPresent() || seed.isPresent()) {
          throw new ParameterException(spec.commandLine(), "--with-model, --attention, --twicing-layers and "
              + "--seed apply to --model only; --onnx binds the file as it is");
        }
        files = generator.generate(onnx());
      } else {
        TaskModel model = preset();
        StateDict weights = StateDict.initialize(model, seed.orElse(0L));
        if (withModel) {
          ModelArtifacts.writeAll(model, weights, TrainingSpec.defaults(), dir, EmitOptions.defaults());
          for (String f : List.of(ModelArtifacts.MODEL, ModelArtifacts.GRADS, ModelArtifacts.TRAIN_STEP)) {
            written.add(dir.resolve(f));
          }
          files = generator.generate(dir.resolve(ModelArtifacts.MODEL));
        } else {
          ModelProto proto = ModelArtifacts.inferenceModel(model, weights, null, EmitOptions.defaults());
          files = List.of(generator.binding(proto, model.name()));
        }
      }
      for (GeneratedSource f : files) {
        written.add(f.writeTo(out));
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof ParameterException pe) {
        throw pe;
      }
      throw new CliException(CliException.describe(e), e);
    }
    PrintWriter w = spec.commandLine().getOut();
    written.forEach(p -> w.println("wrote " + p));
    w.flush();
    return 0;
  }

  private Path onnx() {
    if (!Files.isRegularFile(source.onnx)) {
      throw new CliException(source.onnx + ": " + (Files.exists(source.onnx) ? "not a regular file"
          : "no such file"));
    }
    return source.onnx;
  }

  private TaskModel preset() {
    PresetOptions options = PresetOptions.defaults();
    if (attention.isPresent()) {
      options = options.withAttention(attention.get());
    }
    if (twicingLayers.isPresent()) {
      options = options.withTwicingLayers(twicingLayers.get());
    }
    try {
      return Zoo.build(source.preset, options);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }
}
