package org.twicing.runtime.bindings;

import ai.onnxruntime.OnnxTensor;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.codegen.bindings.TrainStepLayout;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.codegen.train.TrainingSpecs;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.runtime.Results;
import org.twicing.runtime.Tensors;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.CheckpointMismatchException;

/**
 * What a generated trainer carries from step to step: the parameters and optimizer state of a model directory
 * written by {@code twicing emit} ({@code model.onnx} plus {@code train_step.onnx}) as ONNX Runtime tensors, and the
 * number of steps taken. Parameters start as the initializers of {@code model.onnx}, optimizer state as zeros.
 * Checkpoints are {@link Checkpoint}s, the format {@code twicing train} writes: each can resume the other.
 *
 * <p>A step's outputs become the next state without a host copy: the state owns the {@link Results} of the last
 * step (or its initial tensors) and closes them when it moves on. Not thread-safe: a trainer updates it once per
 * step. Close it to free the native tensors.
 */
public final class TrainingState implements AutoCloseable {
  /** Input of the training step taking the learning rate (float32 scalar). */
  public static final String LR = TrainingGraphs.LR;
  /** Input of the training step taking the 1-based number of the step (int64 scalar). */
  public static final String STEP = TrainingGraphs.STEP;
  /** Output of the training step holding the loss before the update. */
  public static final String LOSS = TrainStepLayout.LOSS;
  /** Suffix of the outputs holding the updated value of each parameter and state tensor. */
  public static final String NEXT = TrainStepLayout.NEXT;

  private final Path modelDir;
  private final ModelProto model;
  private final String modelName;
  private final List<String> parameters;
  private final Map<String, long[]> shapes;
  /** Checkpoint metadata carried over: the model's, the training step's spec, the resumed checkpoint's. */
  private final Map<String, String> metadata;
  private Map<String, OnnxTensor> tensors;
  private AutoCloseable owner;
  private long steps;

  private TrainingState(Path modelDir, ModelProto model, String modelName, List<String> parameters,
      Map<String, long[]> shapes, Map<String, String> metadata) {
    this.modelDir = modelDir;
    this.model = model;
    this.modelName = modelName;
    this.parameters = List.copyOf(parameters);
    this.shapes = Collections.unmodifiableMap(shapes);
    this.metadata = metadata;
  }

  /**
   * The state before the first step: parameters from the initializers of {@code modelDir/model.onnx}, optimizer
   * state (whose tensors {@code modelDir/train_step.onnx} lists) zero, no steps taken.
   */
  public static TrainingState initial(Path modelDir) throws IOException {
    TrainingState s = layout(modelDir);
    Path modelFile = modelDir.resolve(ModelArtifacts.MODEL);
    Map<String, TensorProto> inits = new LinkedHashMap<>();
    s.model.getGraph().getInitializerList().forEach(t -> inits.put(t.getName(), t));
    List<OnnxTensor> owned = new ArrayList<>();
    Map<String, OnnxTensor> values = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, long[]> e : s.shapes.entrySet()) {
        float[] v = s.parameters.contains(e.getKey()) ? floats(inits.get(e.getKey()), modelDir, modelFile)
            : new float[count(e.getValue())];
        OnnxTensor t = Tensors.floats(v, e.getValue());
        owned.add(t);
        values.put(e.getKey(), t);
      }
    } catch (IOException | RuntimeException e) {
      owned.forEach(OnnxTensor::close);
      throw e;
    }
    s.tensors = values;
    s.owner = () -> owned.forEach(OnnxTensor::close);
    return s;
  }

  /**
   * The state saved in {@code checkpoint} (by {@link #save} or by {@code twicing train}) for the model in
   * {@code modelDir}: every parameter and state tensor must be there with its shape, and nothing else, and the
   * training spec must be the training step's.
   */
  public static TrainingState restore(Path modelDir, Path checkpoint) throws IOException {
    TrainingState s = layout(modelDir);
    Checkpoint c = Checkpoint.read(checkpoint);
    String expected = s.metadata.get(TrainingSpecs.METADATA_KEY);
    String target = "the model in " + modelDir;
    if (expected != null) {
      TrainingSpec wanted = TrainingSpecs.decode(expected, s.trainStepFile().toString());
      if (!wanted.equals(c.trainingSpec())) {
        throw new IOException(checkpoint + ": checkpoint was trained with " + TrainingSpecs.describe(c.trainingSpec())
            + ", but the training step of " + target + " uses " + TrainingSpecs.describe(wanted));
      }
    }
    try {
      Map<String, OnnxTensor> values = c.tensors(s.shapes, target);
      s.tensors = values;
      s.owner = () -> values.values().forEach(OnnxTensor::close);
    } catch (CheckpointMismatchException e) {
      throw new IOException(e.getMessage(), e);
    }
    s.metadata.putAll(c.metadata());
    s.steps = c.step();
    return s;
  }

  /** The layout of {@code modelDir} with no tensors yet, its metadata taken from both model files. */
  private static TrainingState layout(Path modelDir) throws IOException {
    Path modelFile = modelDir.resolve(ModelArtifacts.MODEL);
    Path stepFile = modelDir.resolve(ModelArtifacts.TRAIN_STEP);
    ModelProto model = ModelSummary.readModel(modelFile);
    ModelProto step = ModelSummary.readModel(stepFile);
    TrainStepLayout layout;
    try {
      layout = TrainStepLayout.of(model, step, stepFile.toString());
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage() + " (model " + modelFile + ")", e);
    }
    Map<String, long[]> shapes = new LinkedHashMap<>(layout.parameters());
    shapes.putAll(layout.states());
    Map<String, String> meta = new LinkedHashMap<>(ModelSummary.of(model).metadata());
    String spec = ModelSummary.of(step).metadata().get(TrainingSpecs.METADATA_KEY);
    if (spec != null) {
      meta.put(TrainingSpecs.METADATA_KEY, spec);
    }
    String name = meta.getOrDefault(Checkpoint.KEY_MODEL, model.getGraph().getName());
    return new TrainingState(modelDir, model, name, new ArrayList<>(layout.parameters().keySet()), shapes, meta);
  }

  /** The directory holding {@code model.onnx} and {@code train_step.onnx}. */
  public Path modelDir() {
    return modelDir;
  }

  /** The training-step model file in {@link #modelDir()}. */
  public Path trainStepFile() {
    return modelDir.resolve(ModelArtifacts.TRAIN_STEP);
  }

  /** The model's name (its {@code twicing.model} metadata, else its graph name). */
  public String modelName() {
    return modelName;
  }

  /** Names of the parameters and then the optimizer state tensors, as the training step takes them. */
  public List<String> names() {
    return List.copyOf(shapes.keySet());
  }

  /** Names of the parameters only. */
  public List<String> parameters() {
    return parameters;
  }

  /** The shape of parameter or state tensor {@code name}. */
  public long[] shape(String name) {
    return known(shapes.get(name), name).clone();
  }

  /** The current values of parameter or state tensor {@code name}, row-major (a copy). */
  public float[] values(String name) {
    return Tensors.toFloats(known(live().get(name), name));
  }

  /**
   * The current parameters and optimizer state as ONNX Runtime tensors, by name, to feed the training step. The
   * state owns them: they stay valid until the next {@link #advance} or {@link #close}.
   */
  public Map<String, OnnxTensor> tensors() {
    return Collections.unmodifiableMap(live());
  }

  /** The number of steps taken. */
  public long steps() {
    return steps;
  }

  /**
   * Takes one step: the outputs {@code <name>.next} of {@code results} (one training step's) become every
   * parameter and state tensor, and the step is counted. The state takes ownership of {@code results} (closing it
   * at the next step, or now if it does not fit, in which case nothing changes).
   *
   * @return the loss output of the step
   */
  public float advance(Results results) {
    try {
      Map<String, OnnxTensor> next = new LinkedHashMap<>();
      for (Map.Entry<String, long[]> e : shapes.entrySet()) {
        String out = e.getKey() + NEXT;
        if (!results.has(out) || !Arrays.equals(results.shape(out), e.getValue())
            || Tensors.typeOf(results.tensor(out)).dtype() != DType.FLOAT32) {
          throw new IllegalArgumentException("the training step returned " + (results.has(out)
              ? Tensors.typeOf(results.tensor(out)) : "no value") + " for '" + e.getKey() + "', expected float32"
              + Arrays.toString(e.getValue()));
        }
        next.put(e.getKey(), results.tensor(out));
      }
      float loss = results.floats(LOSS)[0];
      release();
      tensors = next;
      owner = results;
      steps++;
      return loss;
    } catch (RuntimeException e) {
      results.close();
      throw e;
    }
  }

  /** The parameters as host tensors (copies), by name. */
  public Map<String, Tensor> parameterTensors() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (String name : parameters) {
      out.put(name, Tensors.toHost(live().get(name)));
    }
    return out;
  }

  /**
   * Saves parameters, optimizer state, the step count and the run facts carried over to {@code checkpoint}, in
   * the {@link Checkpoint} format (written atomically); {@link #restore} and {@code twicing train --resume} read
   * it back.
   */
  public void save(Path checkpoint) throws IOException {
    Map<String, Checkpoint.Data> data = Checkpoint.export(live());
    String bad = Checkpoint.firstNonFinite(data);
    if (bad != null) {
      throw new IOException("not saving " + checkpoint + ": the state of " + modelName + " after step " + steps
          + " is not finite: " + bad);
    }
    if (!metadata.containsKey(Checkpoint.KEY_TRAINING_SPEC)) {
      throw new IOException("cannot save " + checkpoint + ": " + trainStepFile() + " does not record its training "
          + "spec (metadata '" + Checkpoint.KEY_TRAINING_SPEC + "'); emit the model again with 'twicing emit'");
    }
    Map<String, String> meta = new LinkedHashMap<>(metadata);
    meta.put(Checkpoint.KEY_FORMAT, Checkpoint.FORMAT);
    meta.put(Checkpoint.KEY_MODEL, modelName);
    meta.put(Checkpoint.KEY_STEP, Long.toString(steps));
    // The caller feeds the batches, so the data position is the one resumed from (none on a fresh start).
    meta.putIfAbsent(Checkpoint.KEY_DATA_POSITION, "");
    Path parent = checkpoint.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Checkpoint.write(checkpoint, data, meta);
  }

  /**
   * Writes {@code modelOnnx}: the loaded {@code model.onnx} with its parameter initializers holding the current
   * values (written atomically; initializers the source kept as external data are written inline).
   */
  public void export(Path modelOnnx) throws IOException {
    Path source = modelDir.resolve(ModelArtifacts.MODEL);
    Set<String> parameterSet = new HashSet<>(parameters);
    Map<String, Checkpoint.Data> data = Checkpoint.export(live());
    GraphProto.Builder g = model.getGraph().toBuilder();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      if (parameterSet.contains(t.getName())) {
        g.setInitializer(i, inline(t, ByteString.copyFrom(data.get(t.getName()).littleEndian().duplicate())));
      } else if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
        g.setInitializer(i, inline(t, ByteString.copyFrom(externalBytes(t, modelDir, source))));
      }
    }
    ModelWriter.write(model.toBuilder().setGraph(g).build(), modelOnnx);
  }

  /** Frees the native tensors; the state cannot be used afterwards. */
  @Override
  public void close() {
    release();
    tensors = null;
  }

  private Map<String, OnnxTensor> live() {
    if (tensors == null) {
      throw new IllegalStateException("the training state of " + modelName + " is closed");
    }
    return tensors;
  }

  private void release() {
    if (owner != null) {
      try {
        owner.close();
      } catch (Exception e) {
        throw new IllegalStateException("could not free the training state of " + modelName, e);
      }
      owner = null;
    }
  }

  private static <T> T known(T value, String name) {
    if (value == null) {
      throw new IllegalArgumentException("no parameter or optimizer state named '" + name + "'");
    }
    return value;
  }

  private static int count(long[] shape) {
    long n = 1;
    for (long s : shape) {
      n = Math.multiplyExact(n, s);
    }
    return Math.toIntExact(n);
  }

  private static TensorProto inline(TensorProto t, ByteString raw) {
    return t.toBuilder().clearFloatData().clearExternalData().clearDataLocation().setRawData(raw).build();
  }

  /** The values of a float32 initializer, stored as raw data, float_data or external data. */
  private static float[] floats(TensorProto t, Path dir, Path file) throws IOException {
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    int n = count(shape);
    float[] out = new float[n];
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      ByteBuffer.wrap(externalBytes(t, dir, file)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    } else if (!t.getRawData().isEmpty()) {
      if (t.getRawData().size() != n * Float.BYTES) {
        throw new IOException(file + ": initializer '" + t.getName() + "' has " + t.getRawData().size()
            + " bytes of raw data, expected " + n * Float.BYTES + " for float32" + Arrays.toString(shape));
      }
      t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    } else if (t.getFloatDataCount() == n) {
      for (int i = 0; i < n; i++) {
        out[i] = t.getFloatData(i);
      }
    } else if (n > 0) {
      throw new IOException(file + ": initializer '" + t.getName() + "' holds " + t.getFloatDataCount()
          + " values, expected " + n + " for float32" + Arrays.toString(shape));
    }
    return out;
  }

  private static byte[] externalBytes(TensorProto t, Path dir, Path file) throws IOException {
    String location = null;
    long offset = 0;
    long length = -1;
    for (StringStringEntryProto e : t.getExternalDataList()) {
      switch (e.getKey()) {
        case "location" -> location = e.getValue();
        case "offset" -> offset = Long.parseLong(e.getValue());
        case "length" -> length = Long.parseLong(e.getValue());
        default -> { }
      }
    }
    if (location == null) {
      throw new IOException(file + ": initializer '" + t.getName() + "' is external but names no location");
    }
    Path data = dir.resolve(location);
    try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
      long len = length >= 0 ? length : ch.size() - offset;
      ch.position(offset);
      try (InputStream in = Channels.newInputStream(ch)) {
        byte[] b = in.readNBytes(Math.toIntExact(len));
        if (b.length != len) {
          throw new IOException(data + " ends before the " + len + " bytes of initializer '" + t.getName()
              + "' at offset " + offset + " (referenced by " + file + ")");
        }
        return b;
      }
    }
  }
}
