package com.example;

import com.example.models.VitFmnist;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.runtime.train.ArrayBatches;
import org.twicing.runtime.train.BatchSource;
import org.twicing.runtime.train.LrSchedule;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;

/**
 * Defines a model, emits its ONNX files, trains it for a few steps from in-memory arrays, and fails unless the
 * emitted training step takes every parameter as an input and the loss falls; then runs the binding that
 * twicing-maven-plugin generated for the vit-fmnist preset. Arguments: a work directory, the preset's model.onnx.
 */
public final class Main {
  private Main() { }

  /** Runs the checks in {@code args[0]} (default: a new temporary directory), the binding on {@code args[1]}. */
  public static void main(String[] args) throws Exception {
    Path work = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("twicing-consumer");
    ByteClassifier model = new ByteClassifier(16, 32, 4);
    StateDict weights = StateDict.initialize(model, 0);

    // 1. Emit model.onnx, grads.onnx and train_step.onnx; the step must take the parameters as inputs.
    Path emitted = work.resolve("emitted");
    ModelArtifacts.writeAll(model, weights, TrainingSpec.defaults(), emitted, EmitOptions.defaults());
    ModelProto step = ModelProto.parseFrom(Files.readAllBytes(emitted.resolve(ModelArtifacts.TRAIN_STEP)));
    Set<String> inputs = new HashSet<>();
    for (ValueInfoProto in : step.getGraph().getInputList()) {
      inputs.add(in.getName());
    }
    for (Param p : model.parameters()) {
      if (!inputs.contains(p.name())) {
        throw new IllegalStateException("train_step.onnx does not take parameter " + p.name() + " as an input");
      }
    }

    // 2. Data: 512 sequences of 16 bytes; class c draws its bytes from [64c, 64c + 64).
    int n = 512;
    long[] tokens = new long[n * 16];
    long[] labels = new long[n];
    Random rng = new Random(1);
    for (int i = 0; i < n; i++) {
      labels[i] = rng.nextInt(4);
      for (int t = 0; t < 16; t++) {
        tokens[i * 16 + t] = 64 * labels[i] + rng.nextInt(64);
      }
    }
    BatchSource data = ArrayBatches.longs(tokens, 16).labels(labels).batchSize(32).shuffle(7).build();

    // 3. Train 60 steps through the Trainer.
    TrainerConfig config = TrainerConfig.builder(model)
        .initialWeights(weights)
        .schedule(LrSchedule.warmupConstant(3e-3, 5))
        .steps(60)
        .runDir(work.resolve("run"))
        .build();
    TrainResult result = new Trainer(config).train(data);
    float[] losses = result.losses();
    double first = (losses[0] + losses[1] + losses[2]) / 3;
    double last = (losses[losses.length - 3] + losses[losses.length - 2] + losses[losses.length - 1]) / 3;
    System.out.printf("loss %.3f -> %.3f over %d steps; trained model: %s%n", first, last, losses.length,
        result.model());
    if (!(last < 0.5 * first)) {
      throw new IllegalStateException("the loss did not fall by half: " + Arrays.toString(losses));
    }

    // 4. The generated binding: one blank 28x28 image through vit-fmnist gives ten logits.
    if (args.length > 1) {
      try (VitFmnist vit = VitFmnist.load(Path.of(args[1]))) {
        float[][] logits = vit.run(new float[1][1][28][28]).logits();
        if (logits.length != 1 || logits[0].length != 10) {
          throw new IllegalStateException("VitFmnist gave logits of shape [" + logits.length + ", "
              + (logits.length > 0 ? logits[0].length : 0) + "], expected [1, 10]");
        }
        System.out.println("generated binding VitFmnist: logits " + Arrays.toString(logits[0]));
      }
    }
  }
}
