package org.twicing.codegen.bindings;

import static org.twicing.codegen.bindings.CodeParts.constant;
import static org.twicing.codegen.bindings.CodeParts.endFeed;
import static org.twicing.codegen.bindings.CodeParts.feed;
import static org.twicing.codegen.bindings.CodeParts.listOf;
import static org.twicing.codegen.bindings.CodeParts.specField;
import static org.twicing.codegen.bindings.JavadocText.code;
import static org.twicing.codegen.bindings.JavadocText.inputsList;
import static org.twicing.codegen.bindings.JavadocText.javadoc;
import static org.twicing.codegen.bindings.JavadocText.outputsDoc;
import static org.twicing.codegen.bindings.JavadocText.ports;
import static org.twicing.codegen.bindings.RuntimeApi.FEEDS;
import static org.twicing.codegen.bindings.RuntimeApi.MODEL_SESSION;
import static org.twicing.codegen.bindings.RuntimeApi.ONNX_RUNTIME_EXCEPTION;
import static org.twicing.codegen.bindings.RuntimeApi.ORT_EXCEPTION;
import static org.twicing.codegen.bindings.RuntimeApi.RESULTS;
import static org.twicing.codegen.bindings.RuntimeApi.SESSION_OPTIONS;
import static org.twicing.codegen.bindings.RuntimeApi.SIGNATURE;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.NameAllocator;
import com.palantir.javapoet.TypeSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.lang.model.element.Modifier;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorSpec;

/**
 * The model class of a binding: {@code load} methods that check the model file against the signature the class
 * was generated for, {@code run} on Java arrays and on NIO buffers, and the {@code Output} record.
 */
final class ModelClass {
  private ModelClass() { }

  /** The model class for {@code model}, named {@code self}; {@code modelName} is the name it reports. */
  static TypeSpec build(ModelProto model, String modelName, ClassName self) {
    ClassName output = self.nestedClass("Output");
    ModelSummary summary = ModelSummary.of(model);
    Set<String> initializers = new HashSet<>();
    model.getGraph().getInitializerList().forEach(t -> initializers.add(t.getName()));
    NameAllocator members = JavaNames.allocator("check", "session", "results", "feeds", "options",
        "onnxFile", "output", "e");
    NameAllocator constants = JavaNames.allocator("MODEL", "SIGNATURE");
    List<TensorSpec> inputSpecs = new ArrayList<>();
    for (ValueInfoProto v : model.getGraph().getInputList()) {
      if (!initializers.contains(v.getName())) {
        inputSpecs.add(Port.spec(v, "input"));
      }
    }
    List<Port> inputs = Port.inputs(inputSpecs, members, constants);
    if (inputs.isEmpty()) {
      throw new IllegalArgumentException("model '" + modelName + "' has no inputs to bind");
    }
    NameAllocator components = JavaNames.allocator();
    List<Port> outputs = new ArrayList<>();
    for (ValueInfoProto v : model.getGraph().getOutputList()) {
      outputs.add(Port.output(Port.spec(v, "output"), components, constants));
    }
    ModelDescription d = ModelDescription.of(modelName, summary, inputs);

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
    return type.build();
  }

  private static MethodSpec runOnArrays(List<Port> inputs, List<Port> outputs, ClassName output, ModelDescription d) {
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

  private static MethodSpec runOnBuffers(List<Port> inputs, List<Port> outputs, ClassName output, ModelDescription d) {
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
}
