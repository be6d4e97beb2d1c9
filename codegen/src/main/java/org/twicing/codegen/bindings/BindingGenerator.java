package org.twicing.codegen.bindings;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import java.io.IOException;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.lang.model.SourceVersion;
import javax.lang.model.element.Modifier;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.types.DType;
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
  private static final String RUNTIME = "org.twicing.runtime";
  private static final ClassName MODEL_SESSION = ClassName.get(RUNTIME, "ModelSession");
  private static final ClassName SESSION_OPTIONS = ClassName.get(RUNTIME, "SessionOptionsSpec");
  private static final ClassName TENSORS = ClassName.get(RUNTIME, "Tensors");
  private static final ClassName RESULTS = ClassName.get(RUNTIME, "Results");
  private static final ClassName ONNX_RUNTIME_EXCEPTION = ClassName.get(RUNTIME, "OnnxRuntimeException");
  private static final String RUNTIME_BINDINGS = RUNTIME + ".bindings";
  private static final ClassName TRAINING_STATE = ClassName.get(RUNTIME_BINDINGS, "TrainingState");
  private static final ClassName SIGNATURE = ClassName.get(RUNTIME_BINDINGS, "Signature");
  private static final ClassName INPUT_CHECK = ClassName.get(RUNTIME_BINDINGS, "InputCheck");
  private static final ClassName ONNX_TENSOR = ClassName.get("ai.onnxruntime", "OnnxTensor");
  private static final ClassName ORT_EXCEPTION = ClassName.get("ai.onnxruntime", "OrtException");
  private static final TypeName FEEDS = ParameterizedTypeName.get(ClassName.get(Map.class),
      ClassName.get(String.class), ONNX_TENSOR);
  private static final int WIDTH = 100;
  /** A word of Javadoc prose: inline tags and other non-blank runs, up to the next blank outside a tag. */
  private static final Pattern WORD = Pattern.compile("(\\{@[^}]*\\}|[^\\s{])+");
  /** Map.of takes at most this many entries. */
  private static final int MAP_OF_LIMIT = 10;

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
    String meta = ModelSummary.of(model).metadata().get("twicing.model");
    if (meta != null && !meta.isBlank()) {
      return meta;
    }
    if (!model.getGraph().getName().isBlank()) {
      return model.getGraph().getName();
    }
    return fallbackName == null || fallbackName.isBlank() ? "model" : fallbackName;
  }

  // ---------------------------------------------------------------- the model class

  /** The binding class for {@code model}; {@code fallbackName} names it when the model has no name of its own. */
  public GeneratedSource binding(ModelProto model, String fallbackName) {
    return source(bindingFile(model, fallbackName));
  }

  /** {@link #binding} as JavaPoet built it (JavaPoet stays out of the public API). */
  JavaFile bindingFile(ModelProto model, String fallbackName) {
    String modelName = modelName(model, fallbackName);
    ClassName self = ClassName.get(packageName, className(model, fallbackName));
    ClassName output = self.nestedClass("Output");
    ModelSummary summary = ModelSummary.of(model);
    Set<String> initializers = new HashSet<>();
    model.getGraph().getInitializerList().forEach(t -> initializers.add(t.getName()));
    JavaNames.Allocator members = new JavaNames.Allocator("check", "session", "results", "feeds", "options",
        "onnxFile", "output", "e");
    JavaNames.Allocator constants = new JavaNames.Allocator("MODEL", "SIGNATURE");
    List<TensorSpec> inputSpecs = new ArrayList<>();
    for (ValueInfoProto v : model.getGraph().getInputList()) {
      if (!initializers.contains(v.getName())) {
        inputSpecs.add(spec(v, "input"));
      }
    }
    List<Port> inputs = Port.inputs(inputSpecs, members, constants);
    if (inputs.isEmpty()) {
      throw new IllegalArgumentException("model '" + modelName + "' has no inputs to bind");
    }
    JavaNames.Allocator components = new JavaNames.Allocator();
    List<Port> outputs = new ArrayList<>();
    for (ValueInfoProto v : model.getGraph().getOutputList()) {
      outputs.add(Port.output(spec(v, "output"), components, constants));
    }
    Description d = new Description(modelName, summary, symbols(inputs));

    TypeSpec.Builder type = TypeSpec.classBuilder(self)
        .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
        .addSuperinterface(AutoCloseable.class)
        .addJavadoc("$L", javadoc(
            "Runs the ONNX model " + code(modelName) + " on Java arrays and NIO buffers, with typed inputs and "
                + "outputs.",
            "<p>" + d.metadataSentence(),
            ports(inputs, outputs),
            "<p>Inputs are checked before the model runs: arrays must be rectangular, fixed dimensions must have "
                + "their size" + d.symbolsClause() + ". Failures are {@link IllegalArgumentException}s naming "
                + "the input and giving the expected and the actual shape. An instance holds a native ONNX "
                + "Runtime session: close it when done. It may run on several threads at once."));
    type.addField(constant(ClassName.get(String.class), "MODEL", CodeBlock.of("$S", modelName),
        "The model's name, as used in messages."));
    for (Port p : inputs) {
      type.addField(specField(p, "Input"));
    }
    for (Port p : outputs) {
      type.addField(specField(p, "Output"));
    }
    type.addField(constant(SIGNATURE, "SIGNATURE",
        CodeBlock.of("new $T($L, $L)", SIGNATURE, listOf(inputs), listOf(outputs)),
        "The inputs and outputs this class was generated for, checked against the model file it loads."));
    type.addField(FieldSpec.builder(MODEL_SESSION, "session", Modifier.PRIVATE, Modifier.FINAL).build());

    type.addMethod(MethodSpec.constructorBuilder().addModifiers(Modifier.PRIVATE)
        .addParameter(MODEL_SESSION, "session")
        .addStatement("this.session = session")
        .build());
    type.addMethod(MethodSpec.methodBuilder("load")
        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
        .returns(self)
        .addParameter(Path.class, "onnxFile")
        .addJavadoc("$L", javadoc(
            "Loads " + code(modelName) + " from " + code("onnxFile") + " on CPU with ONNX Runtime's default "
                + "options.",
            "<p>" + d.metadataSentence(),
            "@param onnxFile the model file (external data files are looked up next to it)",
            "@return the loaded model; close it when done",
            "@throws IllegalArgumentException if the file does not exist or declares other inputs or outputs than "
                + inputsList(inputs) + " and " + inputsList(outputs)))
        .addStatement("return load(onnxFile, $T.defaults())", SESSION_OPTIONS)
        .build());
    type.addMethod(MethodSpec.methodBuilder("load")
        .addModifiers(Modifier.PUBLIC, Modifier.STATIC)
        .returns(self)
        .addParameter(Path.class, "onnxFile")
        .addParameter(SESSION_OPTIONS, "options")
        .addJavadoc("$L", javadoc(
            "Loads " + code(modelName) + " from " + code("onnxFile") + " with the given session options "
                + "(execution provider, threads).",
            "<p>" + d.metadataSentence(),
            "@param onnxFile the model file (external data files are looked up next to it)",
            "@param options how to open the ONNX Runtime session",
            "@return the loaded model; close it when done",
            "@throws IllegalArgumentException if the file does not exist or declares other inputs or outputs than "
                + inputsList(inputs) + " and " + inputsList(outputs)))
        .addStatement("$T session = $T.open(onnxFile, options)", MODEL_SESSION, MODEL_SESSION)
        .beginControlFlow("try")
        .addStatement("SIGNATURE.check(session.description(), session.inputs(), session.outputs(), true)")
        .nextControlFlow("catch ($T e)", RuntimeException.class)
        .addStatement("session.close()")
        .addStatement("throw e")
        .endControlFlow()
        .addStatement("return new $T(session)", self)
        .build());
    type.addMethod(runOnArrays(inputs, outputs, output, d));
    type.addMethod(runOnBuffers(inputs, outputs, output, d));
    type.addMethod(MethodSpec.methodBuilder("session")
        .addModifiers(Modifier.PUBLIC)
        .returns(MODEL_SESSION)
        .addJavadoc("$L", javadoc("The underlying session, for the untyped API (named feeds, chosen outputs); "
            + "closed with this model.", "", "@return the session"))
        .addStatement("return session")
        .build());
    type.addMethod(MethodSpec.methodBuilder("close")
        .addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC)
        .addJavadoc("$L", javadoc("Closes the ONNX Runtime session; later runs fail."))
        .addStatement("session.close()")
        .build());
    type.addMethod(runFeeds(outputs, output));
    type.addMethod(valueOf());
    type.addType(outputRecord(outputs, output, modelName));
    return file(type.build(), modelName, "the model");
  }

  private MethodSpec runOnArrays(List<Port> inputs, List<Port> outputs, ClassName output, Description d) {
    MethodSpec.Builder m = MethodSpec.methodBuilder("run").addModifiers(Modifier.PUBLIC).returns(output);
    List<String> doc = new ArrayList<>();
    doc.add("Runs " + code(d.modelName()) + " on " + (inputs.size() == 1 ? "an array" : "arrays") + ".");
    doc.add("");
    for (Port p : inputs) {
      m.addParameter(p.arrayType(), p.member());
      doc.add("@param " + p.member() + " " + p.describe() + (p.spec().rank() == 0 ? ", a scalar" : ""));
    }
    doc.add("@return " + outputsDoc(outputs));
    doc.add("@throws IllegalArgumentException " + d.throwsClause(inputs, true));
    m.addJavadoc("$L", javadoc(doc.toArray(String[]::new)));
    feed(m, inputs, false);
    endFeed(m, inputs, "run", "");
    return m.build();
  }

  private MethodSpec runOnBuffers(List<Port> inputs, List<Port> outputs, ClassName output, Description d) {
    MethodSpec.Builder m = MethodSpec.methodBuilder("run").addModifiers(Modifier.PUBLIC).returns(output);
    List<String> doc = new ArrayList<>();
    doc.add("Runs " + code(d.modelName()) + " on NIO buffers with explicit shapes. Each buffer's remaining "
        + "elements are the tensor in row-major order. Direct buffers in native byte order are used in place, "
        + "without a copy (leave them unchanged until the call returns); other buffers are copied.");
    doc.add("");
    for (Port p : inputs) {
      m.addParameter(p.bufferType(), p.member());
      m.addParameter(long[].class, p.shapeParam());
      doc.add("@param " + p.member() + " the values of " + code(p.spec().name()) + ", " + p.spec().dtype()
          + (p.spec().dtype() == DType.BOOL ? " (one byte each, 0 or 1)" : ""));
      doc.add("@param " + p.shapeParam() + " the shape of " + code(p.spec().name()) + ", "
          + code(p.spec().shape()));
    }
    doc.add("@return " + outputsDoc(outputs));
    doc.add("@throws IllegalArgumentException " + d.throwsClause(inputs, false));
    m.addJavadoc("$L", javadoc(doc.toArray(String[]::new)));
    feed(m, inputs, true);
    endFeed(m, inputs, "run", "");
    return m.build();
  }

  /** Body of a public run (or step) method: check the inputs, wrap them as tensors, hand over to the feeds method. */
  private static void feed(MethodSpec.Builder m, List<Port> inputs, boolean buffers) {
    if (buffers || inputs.stream().anyMatch(p -> p.spec().rank() > 0)) {
      m.addStatement("$T check = new $T(MODEL)", INPUT_CHECK, INPUT_CHECK);
    }
    for (Port p : inputs) {
      if (buffers) {
        m.addStatement("check.buffer($N, $N, $N)", p.constant(), p.member(), p.shapeParam());
      } else if (p.spec().rank() > 0) {
        m.addStatement("check.array($N, $N)", p.constant(), p.member());
      }
    }
    CodeBlock.Builder resources = CodeBlock.builder();
    for (int i = 0; i < inputs.size(); i++) {
      Port p = inputs.get(i);
      resources.add(i == 0 ? "" : ";\n$>$>").add("$T $N = $L", ONNX_TENSOR, p.tensorVar(),
          buffers ? p.fromBuffer() : p.fromArray());
      if (i > 0) {
        resources.add("$<$<");
      }
    }
    m.beginControlFlow("try ($L)", resources.build());
  }

  /** Closes the try of {@link #feed} with {@code return call(feeds)}. */
  private static void endFeed(MethodSpec.Builder m, List<Port> inputs, String call, String trailingArgs) {
    m.addStatement("return $N($L$L)", call, feedsMap(inputs), trailingArgs);
    m.endControlFlow();
  }

  private static CodeBlock feedsMap(List<Port> inputs) {
    CodeBlock.Builder b = CodeBlock.builder();
    if (inputs.size() <= MAP_OF_LIMIT) {
      b.add("$T.of(", Map.class);
      for (int i = 0; i < inputs.size(); i++) {
        b.add(i == 0 ? "" : ", ").add("$N.name(), $N", inputs.get(i).constant(), inputs.get(i).tensorVar());
      }
    } else {
      b.add("$T.ofEntries(", Map.class);
      for (int i = 0; i < inputs.size(); i++) {
        b.add(i == 0 ? "" : ",$W").add("$T.entry($N.name(), $N)", Map.class, inputs.get(i).constant(),
            inputs.get(i).tensorVar());
      }
    }
    return b.add(")").build();
  }

  private static MethodSpec runFeeds(List<Port> outputs, ClassName output) {
    CodeBlock.Builder values = CodeBlock.builder();
    for (int i = 0; i < outputs.size(); i++) {
      Port p = outputs.get(i);
      // One output fits on the line; several read best one per line.
      values.add(outputs.size() == 1 ? "" : i == 0 ? "\n" : ",\n")
          .add("($T) value(results, $N)", p.castType(), p.constant());
    }
    return MethodSpec.methodBuilder("run")
        .addModifiers(Modifier.PRIVATE)
        .returns(output)
        .addParameter(FEEDS, "feeds")
        .addJavadoc("$L", javadoc("Runs the model on checked feeds and copies every output into a new Java "
            + "array."))
        .beginControlFlow("try ($T results = session.run(feeds))", RESULTS)
        .addStatement("return new $T($L)", output, values.build())
        .endControlFlow()
        .build();
  }

  private static MethodSpec valueOf() {
    return MethodSpec.methodBuilder("value")
        .addModifiers(Modifier.PRIVATE)
        .returns(Object.class)
        .addParameter(RESULTS, "results")
        .addParameter(TensorSpec.class, "output")
        .addJavadoc("$L", javadoc("Output {@code output} of {@code results} as a (multi-dimensional) Java array, or "
            + "a boxed value for a scalar."))
        .beginControlFlow("try")
        .addStatement("return results.tensor(output.name()).getValue()")
        .nextControlFlow("catch ($T e)", ORT_EXCEPTION)
        .addStatement("throw new $T(\"could not read output '\" + output.name() + \"' of \"$W"
            + "+ session.description(), e)", ONNX_RUNTIME_EXCEPTION)
        .endControlFlow()
        .build();
  }

  private static TypeSpec outputRecord(List<Port> outputs, ClassName output, String modelName) {
    MethodSpec.Builder ctor = MethodSpec.constructorBuilder();
    List<String> doc = new ArrayList<>();
    doc.add("The outputs of one run of " + code(modelName) + ", as newly allocated arrays (symbolic dimensions take "
        + "their sizes from the inputs).");
    doc.add("");
    for (Port p : outputs) {
      ctor.addParameter(p.arrayType(), p.member());
      doc.add("@param " + p.member() + " " + p.describe());
    }
    return TypeSpec.recordBuilder(output)
        .addModifiers(Modifier.PUBLIC)
        .recordConstructor(ctor.build())
        .addJavadoc("$L", javadoc(doc.toArray(String[]::new)))
        .build();
  }

  // ---------------------------------------------------------------- the trainer class

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
    TrainStepLayout layout = TrainStepLayout.of(model, trainStep, ModelArtifacts.TRAIN_STEP);
    JavaNames.Allocator members = new JavaNames.Allocator("check", "trainStep", "state", "results", "feeds",
        "owned", "next", "loss", "name", "options", "modelDir", "checkpoint", "modelOnnx", "session", "e");
    JavaNames.Allocator constants = new JavaNames.Allocator("MODEL", "SIGNATURE", "LOSS");
    List<TensorSpec> batchSpecs = new ArrayList<>();
    for (ValueInfoProto v : layout.data()) {
      batchSpecs.add(spec(v, "input"));
    }
    batchSpecs.add(spec(layout.labels(), "labels"));
    List<Port> batch = Port.inputs(batchSpecs, members, constants);
    String lr = members.allocate("lr");
    TensorSpec loss = null;
    for (ValueInfoProto v : trainStep.getGraph().getOutputList()) {
      if (v.getName().equals(TrainStepLayout.LOSS)) {
        loss = spec(v, "output");
      }
    }
    if (loss == null || loss.rank() != 0 || loss.dtype() != DType.FLOAT32) {
      throw new IllegalArgumentException("the training step's output '" + TrainStepLayout.LOSS + "' is "
          + (loss == null ? "missing" : loss.type()) + ", expected a float32 scalar");
    }
    ModelSummary summary = ModelSummary.of(model);
    Map<String, String> stepMeta = ModelSummary.of(trainStep).metadata();
    Description d = new Description(modelName, summary, symbols(batch));
    Port labels = batch.get(batch.size() - 1);
    String training = stepMeta.containsKey("twicing.optimizer") ? " (" + code(stepMeta.get("twicing.optimizer"))
        + (stepMeta.containsKey("twicing.loss") ? ", loss " + code(stepMeta.get("twicing.loss")) : "") + ")" : "";

    TypeSpec.Builder type = TypeSpec.classBuilder(self)
        .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
        .addSuperinterface(AutoCloseable.class)
        .addJavadoc("$L", javadoc(
            "Trains " + code(modelName) + " with the optimizer step emitted beside it in " + code("train_step.onnx")
                + training + ", starting from the parameters in " + code("model.onnx") + " or from a checkpoint.",
            "<p>" + d.metadataSentence(),
            ports(batch, List.of()),
            "<p>Each {@link #step} counts itself and updates the parameters and optimizer state held in memory; "
                + "{@link #save} writes them to a checkpoint that {@link #load(Path, Path)} resumes from, and "
                + "{@link #export} writes a " + code("model.onnx") + " with the current parameters, which {@link "
                + modelClass + "} loads. An instance holds a native ONNX Runtime session: close it when done. "
                + "Not thread-safe."));
    type.addField(constant(ClassName.get(String.class), "MODEL", CodeBlock.of("$S", modelName),
        "The model's name, as used in messages."));
    for (Port p : batch) {
      type.addField(specField(p, p == labels ? "Class labels" : "Input"));
    }
    type.addField(constant(ClassName.get(TensorSpec.class), "LOSS", specOf(loss),
        "The loss output of the training step."));
    type.addField(constant(SIGNATURE, "SIGNATURE",
        CodeBlock.of("new $T($L, $T.of(LOSS))", SIGNATURE, listOf(batch), List.class),
        "The batch inputs and the loss this class was generated for, checked against the training step it "
            + "loads."));
    type.addField(FieldSpec.builder(MODEL_SESSION, "trainStep", Modifier.PRIVATE, Modifier.FINAL).build());
    type.addField(FieldSpec.builder(TRAINING_STATE, "state", Modifier.PRIVATE, Modifier.FINAL).build());
    type.addMethod(MethodSpec.constructorBuilder().addModifiers(Modifier.PRIVATE)
        .addParameter(MODEL_SESSION, "trainStep")
        .addParameter(TRAINING_STATE, "state")
        .addStatement("this.trainStep = trainStep")
        .addStatement("this.state = state")
        .build());

    String dirDoc = "@param modelDir the directory holding " + code("model.onnx") + " and "
        + code("train_step.onnx") + ", as {@code twicing emit} writes them";
    String loadThrows = "@throws IOException if a model file cannot be read";
    String badFiles = "@throws IllegalArgumentException if the training step declares other batch inputs than "
        + inputsList(batch);
    type.addMethod(MethodSpec.methodBuilder("load")
        .addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
        .addParameter(Path.class, "modelDir")
        .addException(IOException.class)
        .addJavadoc("$L", javadoc("Starts training " + code(modelName) + " from the parameters in "
            + code("model.onnx") + ", with zero optimizer state, on CPU with ONNX Runtime's default options.",
            "<p>" + d.metadataSentence(), dirDoc, "@return a trainer before its first step; close it when done",
            loadThrows, badFiles))
        .addStatement("return load(modelDir, $T.defaults())", SESSION_OPTIONS)
        .build());
    type.addMethod(MethodSpec.methodBuilder("load")
        .addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
        .addParameter(Path.class, "modelDir")
        .addParameter(SESSION_OPTIONS, "options")
        .addException(IOException.class)
        .addJavadoc("$L", javadoc("Starts training " + code(modelName) + " from the parameters in "
            + code("model.onnx") + ", with zero optimizer state and the given session options.",
            "<p>" + d.metadataSentence(), dirDoc, "@param options how to open the ONNX Runtime session",
            "@return a trainer before its first step; close it when done", loadThrows, badFiles))
        .addStatement("return open($T.initial(modelDir), options)", TRAINING_STATE)
        .build());
    type.addMethod(MethodSpec.methodBuilder("load")
        .addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
        .addParameter(Path.class, "modelDir")
        .addParameter(Path.class, "checkpoint")
        .addException(IOException.class)
        .addJavadoc("$L", javadoc("Resumes training " + code(modelName) + " from a checkpoint written by {@link "
            + "#save}: parameters, optimizer state and step count, on CPU with ONNX Runtime's default options.",
            "", dirDoc, "@param checkpoint the checkpoint (safetensors)",
            "@return a trainer continuing where the checkpoint left off; close it when done",
            "@throws IOException if a model file or the checkpoint cannot be read, or the checkpoint does not "
                + "fit the model", badFiles))
        .addStatement("return load(modelDir, checkpoint, $T.defaults())", SESSION_OPTIONS)
        .build());
    type.addMethod(MethodSpec.methodBuilder("load")
        .addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
        .addParameter(Path.class, "modelDir")
        .addParameter(Path.class, "checkpoint")
        .addParameter(SESSION_OPTIONS, "options")
        .addException(IOException.class)
        .addJavadoc("$L", javadoc("Resumes training " + code(modelName) + " from a checkpoint written by {@link "
            + "#save}, with the given session options.",
            "", dirDoc, "@param checkpoint the checkpoint (safetensors)",
            "@param options how to open the ONNX Runtime session",
            "@return a trainer continuing where the checkpoint left off; close it when done",
            "@throws IOException if a model file or the checkpoint cannot be read, or the checkpoint does not "
                + "fit the model", badFiles))
        .addStatement("return open($T.restore(modelDir, checkpoint), options)", TRAINING_STATE)
        .build());
    type.addMethod(MethodSpec.methodBuilder("open")
        .addModifiers(Modifier.PRIVATE, Modifier.STATIC).returns(self)
        .addJavadoc("$L", javadoc("Opens the training step of {@code state}, checking that it takes the batch "
            + "this class was generated for; closes {@code state} if it cannot."))
        .addParameter(TRAINING_STATE, "state")
        .addParameter(SESSION_OPTIONS, "options")
        .addStatement("$T session = null", MODEL_SESSION)
        .beginControlFlow("try")
        .addStatement("session = $T.open(state.trainStepFile(), options)", MODEL_SESSION)
        .addStatement("SIGNATURE.check(session.description(), session.inputs(), session.outputs(), false)")
        .addStatement("return new $T(session, state)", self)
        .nextControlFlow("catch ($T e)", RuntimeException.class)
        .beginControlFlow("if (session != null)")
        .addStatement("session.close()")
        .endControlFlow()
        .addStatement("state.close()")
        .addStatement("throw e")
        .endControlFlow()
        .build());

    MethodSpec.Builder step = MethodSpec.methodBuilder("step").addModifiers(Modifier.PUBLIC).returns(float.class);
    List<String> doc = new ArrayList<>();
    doc.add("Takes one optimizer step on a batch and counts it. The parameters and optimizer state are replaced "
        + "by their updated values only once the step has succeeded.");
    doc.add("");
    for (Port p : batch) {
      step.addParameter(p.arrayType(), p.member());
      doc.add("@param " + p.member() + " " + p.describe() + (p == labels ? ", the class index of each item" : ""));
    }
    step.addParameter(float.class, lr);
    doc.add("@param " + lr + " the learning rate of this step");
    doc.add("@return the loss on this batch before the update");
    doc.add("@throws IllegalArgumentException " + d.throwsClause(batch, true));
    step.addJavadoc("$L", javadoc(doc.toArray(String[]::new)));
    feed(step, batch, false);
    endFeed(step, batch, "step", ", " + lr);
    type.addMethod(step.build());

    type.addMethod(MethodSpec.methodBuilder("steps")
        .addModifiers(Modifier.PUBLIC).returns(long.class)
        .addJavadoc("$L", javadoc("The number of steps taken, counting those before the checkpoint resumed from.",
            "", "@return the step count"))
        .addStatement("return state.steps()")
        .build());
    type.addMethod(MethodSpec.methodBuilder("state")
        .addModifiers(Modifier.PUBLIC).returns(TRAINING_STATE)
        .addJavadoc("$L", javadoc("The parameters and optimizer state as they are now (live: they change with each "
            + "step).", "", "@return the training state"))
        .addStatement("return state")
        .build());
    type.addMethod(MethodSpec.methodBuilder("save")
        .addModifiers(Modifier.PUBLIC)
        .addParameter(Path.class, "checkpoint")
        .addException(IOException.class)
        .addJavadoc("$L", javadoc("Saves the parameters, optimizer state and step count to " + code("checkpoint")
            + " (safetensors, replaced atomically); {@link #load(Path, Path)} resumes from it.", "",
            "@param checkpoint the file to write", "@throws IOException if the file cannot be written"))
        .addStatement("state.save(checkpoint)")
        .build());
    type.addMethod(MethodSpec.methodBuilder("export")
        .addModifiers(Modifier.PUBLIC)
        .addParameter(Path.class, "modelOnnx")
        .addException(IOException.class)
        .addJavadoc("$L", javadoc("Writes " + code("modelOnnx") + ": the loaded " + code("model.onnx")
            + " with the current parameters as its initializers (replaced atomically), for {@link " + modelClass
            + "#load(Path)}.", "", "@param modelOnnx the model file to write",
            "@throws IOException if the file cannot be written"))
        .addStatement("state.export(modelOnnx)")
        .build());
    type.addMethod(MethodSpec.methodBuilder("close")
        .addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC)
        .addJavadoc("$L", javadoc("Closes the ONNX Runtime session of the training step and frees the state."))
        .beginControlFlow("try")
        .addStatement("trainStep.close()")
        .nextControlFlow("finally")
        .addStatement("state.close()")
        .endControlFlow()
        .build());
    type.addMethod(stepFeeds());
    return file(type.build(), modelName, "the training step of");
  }

  private static MethodSpec stepFeeds() {
    return MethodSpec.methodBuilder("step")
        .addModifiers(Modifier.PRIVATE).returns(float.class)
        .addJavadoc("$L", javadoc("Runs the training step on a checked batch plus the learning rate, the number "
            + "of this step and the current state, whose outputs become the next state (without a copy)."))
        .addParameter(FEEDS, "batch")
        .addParameter(float.class, "lr")
        .beginControlFlow("try ($T lrTensor = $T.floatScalar(lr);$W$T stepTensor = $T.longScalar(state.steps() + 1))",
            ONNX_TENSOR, TENSORS, ONNX_TENSOR, TENSORS)
        .addStatement("$T feeds = new $T<>(batch)", FEEDS, LinkedHashMap.class)
        .addStatement("feeds.put($T.LR, lrTensor)", TRAINING_STATE)
        .addStatement("feeds.put($T.STEP, stepTensor)", TRAINING_STATE)
        .addStatement("feeds.putAll(state.tensors())")
        .addStatement("return state.advance(trainStep.run(feeds))")
        .endControlFlow()
        .build();
  }

  // ---------------------------------------------------------------- shared pieces

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

  private static FieldSpec constant(TypeName type, String name, CodeBlock init, String doc) {
    return FieldSpec.builder(type, name, Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
        .addJavadoc("$L", javadoc(doc))
        .initializer(init)
        .build();
  }

  private static FieldSpec specField(Port p, String role) {
    return constant(ClassName.get(TensorSpec.class), p.constant(), specOf(p.spec()),
        role + " " + code(p.spec().name()) + ": " + p.spec().dtype() + " " + code(p.spec().shape()) + ".");
  }

  private static CodeBlock specOf(TensorSpec s) {
    CodeBlock.Builder b = CodeBlock.builder().add("$T.of($S, $T.$L", TensorSpec.class, s.name(), DType.class,
        s.dtype().name());
    for (int i = 0; i < s.rank(); i++) {
      if (s.dim(i).isFixed()) {
        long n = s.dim(i).size();
        b.add(n <= Integer.MAX_VALUE ? ", $L" : ", $LL", n);
      } else {
        b.add(", $S", s.dim(i).symbol());
      }
    }
    return b.add(")").build();
  }

  private static CodeBlock listOf(List<Port> ports) {
    return CodeBlock.of("$T.of($L)", List.class,
        ports.stream().map(p -> CodeBlock.of("$N", p.constant())).collect(CodeBlock.joining(", ")));
  }

  /** The spec of a graph input or output, failing for shapes and element types bindings cannot type. */
  static TensorSpec spec(ValueInfoProto v, String role) {
    if (!v.getType().hasTensorType()) {
      throw new IllegalArgumentException(role + " '" + v.getName() + "' is not a tensor; bindings handle tensors only");
    }
    int code = v.getType().getTensorType().getElemType();
    DType dtype;
    try {
      dtype = DType.fromOnnxCode(code);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(role + " '" + v.getName() + "' has ONNX element type "
          + TensorProto.DataType.forNumber(code) + ", which bindings do not support (supported: float32, float64, "
          + "int64, int32, bool, and float16/bfloat16 outputs)", e);
    }
    boolean isInput = !role.equals("output");
    if (isInput && (dtype == DType.FLOAT16 || dtype == DType.BFLOAT16)) {
      throw new IllegalArgumentException(role + " '" + v.getName() + "' is " + dtype + ", which has no Java array "
          + "type; bindings take float32, float64, int64, int32 and bool inputs");
    }
    if (!v.getType().getTensorType().hasShape()) {
      throw new IllegalArgumentException(role + " '" + v.getName() + "' declares no shape, so its rank (and Java "
          + "array type) is unknown; re-export the model with shapes on its inputs and outputs");
    }
    List<Object> dims = new ArrayList<>();
    for (TensorShapeProto.Dimension dim : v.getType().getTensorType().getShape().getDimList()) {
      if (dim.hasDimValue()) {
        dims.add(dim.getDimValue());
      } else if (dim.hasDimParam() && !dim.getDimParam().isEmpty()) {
        dims.add(dim.getDimParam());
      } else {
        dims.add(TensorSpec.ANONYMOUS);
      }
    }
    return TensorSpec.of(v.getName(), dtype, dims.toArray());
  }

  private static Set<String> symbols(List<Port> inputs) {
    Set<String> out = new LinkedHashSet<>();
    for (Port p : inputs) {
      for (int i = 0; i < p.spec().rank(); i++) {
        if (p.spec().isBound(i)) {
          out.add(p.spec().dim(i).symbol());
        }
      }
    }
    return out;
  }

  private static String ports(List<Port> inputs, List<Port> outputs) {
    StringBuilder sb = new StringBuilder("<ul>\n");
    for (Port p : inputs) {
      sb.append("  <li>input ").append(code(p.spec().name())).append(": ").append(p.spec().dtype()).append(' ')
          .append(code(p.spec().shape())).append('\n');
    }
    for (Port p : outputs) {
      sb.append("  <li>output ").append(code(p.spec().name())).append(": ").append(p.spec().dtype()).append(' ')
          .append(code(p.spec().shape())).append('\n');
    }
    return sb.append("</ul>").toString();
  }

  private static String inputsList(List<Port> ports) {
    return ports.stream().map(p -> code(p.spec().name())).collect(Collectors.joining(", "));
  }

  private static String outputsDoc(List<Port> outputs) {
    if (outputs.size() == 1) {
      return "the output " + outputs.get(0).describe();
    }
    return "the outputs: " + outputs.stream().map(p -> code(p.member()) + " " + p.describe())
        .collect(Collectors.joining(", "));
  }

  /** Text as Javadoc {@code code}: {@code {@code ...}} when it is safe there, else escaped HTML. */
  static String code(String s) {
    if (s.matches("[A-Za-z0-9_\\[\\], .?:+\\-=()]*") && !s.isEmpty()) {
      return "{@code " + s + "}";
    }
    return "<code>" + html(s) + "</code>";
  }

  /** Escapes text for Javadoc HTML (also neutralising comment ends, tags and inline tags). */
  static String html(String s) {
    StringBuilder sb = new StringBuilder();
    for (char c : s.toCharArray()) {
      switch (c) {
        case '&' -> sb.append("&amp;");
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '@' -> sb.append("&#64;");
        case '/' -> sb.append("&#47;");
        case '{' -> sb.append("&#123;");
        case '}' -> sb.append("&#125;");
        case '\\' -> sb.append("&#92;");
        default -> sb.append(c < ' ' ? ' ' : c);
      }
    }
    return sb.toString();
  }

  /**
   * Javadoc text from paragraphs: each is wrapped to the line width ({@code @param} and {@code @throws}
   * continuations indented by four), an empty one is a blank line, and {@code <ul>} blocks are kept as they are.
   */
  static String javadoc(String... paragraphs) {
    StringBuilder sb = new StringBuilder();
    for (String p : paragraphs) {
      if (p.startsWith("<ul>")) {
        sb.append(p).append('\n');
        continue;
      }
      if (p.isEmpty()) {
        sb.append('\n');
        continue;
      }
      String indent = p.startsWith("@") ? "    " : "";
      StringBuilder line = new StringBuilder();
      for (String word : words(p)) {
        if (line.length() > 0 && line.length() + 1 + word.length() > WIDTH - 7) {
          sb.append(line).append('\n');
          line.setLength(0);
          line.append(indent);
        }
        if (line.length() > 0 && !line.toString().equals(indent)) {
          line.append(' ');
        }
        line.append(word);
      }
      sb.append(line).append('\n');
    }
    return blankLinesBeforeParagraphs(sb.toString());
  }

  /** The words of a paragraph, keeping each inline tag such as <code>{&#64;code a b}</code> in one piece. */
  private static List<String> words(String paragraph) {
    List<String> out = new ArrayList<>();
    Matcher m = WORD.matcher(paragraph);
    while (m.find()) {
      out.add(m.group());
    }
    return out;
  }

  /** Puts a blank line before each {@code <p>}, {@code <ul>} and the first block tag, as hand-written Javadoc has. */
  private static String blankLinesBeforeParagraphs(String s) {
    String[] lines = s.split("\n", -1);
    StringBuilder out = new StringBuilder();
    boolean seenTag = false;
    for (int i = 0; i < lines.length; i++) {
      String l = lines[i];
      boolean tag = l.startsWith("@");
      boolean block = l.startsWith("<p>") || l.startsWith("<ul>") || (tag && !seenTag);
      seenTag |= tag;
      if (block && out.length() > 0 && !out.toString().endsWith("\n\n")) {
        out.append('\n');
      }
      out.append(l);
      if (i + 1 < lines.length) {
        out.append('\n');
      }
    }
    String r = out.toString();
    return r.replaceAll("\n{3,}", "\n\n");
  }

  /** Model metadata as the Javadoc of every generated class states it. */
  private record Description(String modelName, ModelSummary summary, Set<String> symbols) {
    String metadataSentence() {
      Map<String, String> meta = summary.metadata();
      List<String> parts = new ArrayList<>();
      if (meta.containsKey("twicing.model")) {
        parts.add("preset " + code(meta.get("twicing.model")));
      }
      if (meta.containsKey("twicing.attention")) {
        parts.add("attention " + code(meta.get("twicing.attention")));
      }
      long params = summary.parameterCount();
      try {
        params = Long.parseLong(meta.getOrDefault("twicing.parameters", Long.toString(params)).trim());
      } catch (NumberFormatException e) {
        // A foreign value that is not a number: count the initializers instead.
      }
      parts.add(String.format(Locale.ROOT, "%,d parameters", params));
      String producer = summary.producer().isBlank() ? "" : "producer " + code(summary.producer().strip());
      String opset = summary.opsets().containsKey("ai.onnx") ? "opset " + summary.opsets().get("ai.onnx") : "";
      String origin = producer.isEmpty() || opset.isEmpty() ? producer + opset : producer + ", " + opset;
      return "Model: " + String.join(", ", parts) + (origin.isEmpty() ? "" : " (" + origin + ")") + ".";
    }

    String symbolsClause() {
      if (symbols.isEmpty()) {
        return "";
      }
      return ", and " + (symbols.size() == 1 ? "the symbolic dimension " : "each symbolic dimension (")
          + symbols.stream().map(BindingGenerator::code).collect(Collectors.joining(", "))
          + (symbols.size() == 1 ? " must" : ") must") + " have one size across all inputs of a call";
    }

    String throwsClause(List<Port> inputs, boolean arrays) {
      List<String> cases = new ArrayList<>();
      if (arrays) {
        cases.add("an array is null or ragged");
      } else {
        cases.add("a buffer or shape is null");
        cases.add("a shape has the wrong rank or another number of elements than its buffer");
      }
      cases.add("a fixed dimension has another size");
      if (!symbols.isEmpty()) {
        cases.add("a symbolic dimension (" + symbols.stream().map(BindingGenerator::code)
            .collect(Collectors.joining(", ")) + ") has different sizes in different places");
      }
      String list = cases.size() == 2 ? cases.get(0) + " or " + cases.get(1)
          : String.join(", ", cases.subList(0, cases.size() - 1)) + ", or " + cases.get(cases.size() - 1);
      return "if " + list + "; the message names the input and gives the expected and the actual shape";
    }
  }

  /** One input or output of the generated class and the Java names chosen for it. */
  private record Port(TensorSpec spec, String member, String constant, String shapeParam, String tensorVar) {
    /**
     * Ports for inputs: the inputs' own names are chosen first, so that an input named {@code xShape} keeps its
     * name and the shape parameter of an input {@code x} gives way.
     */
    static List<Port> inputs(List<TensorSpec> specs, JavaNames.Allocator members, JavaNames.Allocator constants) {
      List<String> names = new ArrayList<>();
      for (TensorSpec s : specs) {
        names.add(members.allocate(JavaNames.memberName(s.name(), "input")));
      }
      List<Port> out = new ArrayList<>();
      for (int i = 0; i < specs.size(); i++) {
        String member = names.get(i);
        out.add(new Port(specs.get(i), member, constants.allocate(JavaNames.constantName(member)),
            members.allocate(member + "Shape"), members.allocate(member + "Tensor")));
      }
      return out;
    }

    static Port output(TensorSpec spec, JavaNames.Allocator components, JavaNames.Allocator constants) {
      String member = components.allocate(JavaNames.memberName(spec.name(), "output"));
      return new Port(spec, member, constants.allocate(JavaNames.constantName(member)), null, null);
    }

    TypeName element() {
      return switch (spec.dtype()) {
        case FLOAT32, FLOAT16, BFLOAT16 -> TypeName.FLOAT;
        case FLOAT64 -> TypeName.DOUBLE;
        case INT64 -> TypeName.LONG;
        case INT32 -> TypeName.INT;
        case BOOL -> TypeName.BOOLEAN;
      };
    }

    TypeName arrayType() {
      TypeName t = element();
      for (int i = 0; i < spec.rank(); i++) {
        t = ArrayTypeName.of(t);
      }
      return t;
    }

    /** The type to cast {@code OnnxTensor.getValue()} to: the array type, or the boxed element for scalars. */
    TypeName castType() {
      return spec.rank() == 0 ? element().box() : arrayType();
    }

    TypeName bufferType() {
      Class<? extends Buffer> c = switch (spec.dtype()) {
        case FLOAT32 -> FloatBuffer.class;
        case FLOAT64 -> DoubleBuffer.class;
        case INT64 -> LongBuffer.class;
        case INT32 -> IntBuffer.class;
        default -> ByteBuffer.class;
      };
      return ClassName.get(c);
    }

    CodeBlock fromArray() {
      if (spec.rank() > 0) {
        return CodeBlock.of("$T.fromArray($N.name(), $N)", TENSORS, constant, member);
      }
      return switch (spec.dtype()) {
        case FLOAT32 -> CodeBlock.of("$T.floatScalar($N)", TENSORS, member);
        case INT64 -> CodeBlock.of("$T.longScalar($N)", TENSORS, member);
        case FLOAT64 -> CodeBlock.of("$T.doubles(new double[] {$N})", TENSORS, member);
        case INT32 -> CodeBlock.of("$T.ints(new int[] {$N})", TENSORS, member);
        default -> CodeBlock.of("$T.booleans(new boolean[] {$N})", TENSORS, member);
      };
    }

    CodeBlock fromBuffer() {
      if (spec.dtype() == DType.BOOL) {
        return CodeBlock.of("$T.fromBuffer($N, $T.BOOL, $N)", TENSORS, member, DType.class, shapeParam);
      }
      return CodeBlock.of("$T.fromBuffer($N, $N)", TENSORS, member, shapeParam);
    }

    String describe() {
      return spec.dtype() + " " + code(spec.shape());
    }
  }
}
