package org.twicing.codegen.bindings;

import static org.twicing.codegen.bindings.CodeParts.constant;
import static org.twicing.codegen.bindings.CodeParts.endFeed;
import static org.twicing.codegen.bindings.CodeParts.feed;
import static org.twicing.codegen.bindings.CodeParts.listOf;
import static org.twicing.codegen.bindings.CodeParts.specField;
import static org.twicing.codegen.bindings.CodeParts.specOf;
import static org.twicing.codegen.bindings.JavadocText.code;
import static org.twicing.codegen.bindings.JavadocText.inputsList;
import static org.twicing.codegen.bindings.JavadocText.javadoc;
import static org.twicing.codegen.bindings.JavadocText.ports;
import static org.twicing.codegen.bindings.RuntimeApi.FEEDS;
import static org.twicing.codegen.bindings.RuntimeApi.MODEL_SESSION;
import static org.twicing.codegen.bindings.RuntimeApi.ONNX_TENSOR;
import static org.twicing.codegen.bindings.RuntimeApi.SESSION_OPTIONS;
import static org.twicing.codegen.bindings.RuntimeApi.SIGNATURE;
import static org.twicing.codegen.bindings.RuntimeApi.TENSORS;
import static org.twicing.codegen.bindings.RuntimeApi.TRAINING_STATE;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.NameAllocator;
import com.palantir.javapoet.TypeSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.Modifier;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorSpec;

/**
 * The trainer class of a binding: {@code load} from a model directory or a checkpoint, {@code step} on a batch of
 * arrays, and {@code save}, {@code export} and {@code close}; its state is the runtime's {@code TrainingState}.
 */
final class TrainerClass {
  private TrainerClass() { }

  /**
   * The trainer class for {@code model} and its training step {@code trainStep}, named {@code self}; it exports
   * files for the model class {@code modelClass}, and {@code modelName} is the name it reports.
   */
  static TypeSpec build(ModelProto model, ModelProto trainStep, String modelName, String modelClass,
      ClassName self) {
    TrainStepLayout layout = TrainStepLayout.of(model, trainStep, ModelArtifacts.TRAIN_STEP);
    NameAllocator members = JavaNames.allocator("check", "trainStep", "state", "results", "feeds",
        "owned", "next", "loss", "name", "options", "modelDir", "checkpoint", "modelOnnx", "session", "e");
    NameAllocator constants = JavaNames.allocator("MODEL", "SIGNATURE", "LOSS");
    List<TensorSpec> batchSpecs = new ArrayList<>();
    for (ValueInfoProto v : layout.data()) {
      batchSpecs.add(Port.spec(v, "input"));
    }
    batchSpecs.add(Port.spec(layout.labels(), "labels"));
    List<Port> batch = Port.inputs(batchSpecs, members, constants);
    String lr = members.newName("lr");
    TensorSpec loss = null;
    for (ValueInfoProto v : trainStep.getGraph().getOutputList()) {
      if (v.getName().equals(TrainStepLayout.LOSS)) {
        loss = Port.spec(v, "output");
      }
    }
    if (loss == null || loss.rank() != 0 || loss.dtype() != DType.FLOAT32) {
      throw new IllegalArgumentException("the training step's output '" + TrainStepLayout.LOSS + "' is "
          + (loss == null ? "missing" : loss.type()) + ", expected a float32 scalar");
    }
    ModelSummary summary = ModelSummary.of(model);
    Map<String, String> stepMeta = ModelSummary.of(trainStep).metadata();
    ModelDescription d = ModelDescription.of(modelName, summary, batch);
    Port labels = batch.get(batch.size() - 1);
    String training = stepMeta.containsKey(MetadataKeys.OPTIMIZER) ? " (" + code(stepMeta.get(MetadataKeys.OPTIMIZER))
        + (stepMeta.containsKey(MetadataKeys.LOSS) ? ", loss " + code(stepMeta.get(MetadataKeys.LOSS)) : "") + ")" : "";

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
            + " (safetensors, replaced atomically) in the format of " + code("twicing train") + " checkpoints; "
            + "{@link #load(Path, Path)} resumes from it, and so does " + code("twicing train --resume") + " when "
            + "the run's settings are known (this trainer carries them over from a checkpoint it resumed).", "",
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
    return type.build();
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
}
