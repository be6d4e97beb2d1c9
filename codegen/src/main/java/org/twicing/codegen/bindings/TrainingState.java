package org.twicing.codegen.bindings;

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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.io.SafetensorsFile;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * What a generated trainer carries from step to step: the parameters and optimizer state of a model directory
 * written by {@code twicing emit} ({@code model.onnx} plus {@code train_step.onnx}) and the number of steps taken.
 * Parameters start as the initializers of {@code model.onnx}, optimizer state as zeros. It saves and restores
 * checkpoints (safetensors) and exports {@code model.onnx} files holding the current parameters.
 *
 * <p>Not thread-safe: a trainer updates it once per step.
 */
public final class TrainingState {
  /** Input of the training step taking the learning rate (float32 scalar). */
  public static final String LR = TrainingGraphs.LR;
  /** Input of the training step taking the 1-based number of the step (int64 scalar). */
  public static final String STEP = TrainingGraphs.STEP;
  /** Output of the training step holding the loss before the update. */
  public static final String LOSS = TrainStepLayout.LOSS;
  /** Suffix of the outputs holding the updated value of each parameter and state tensor. */
  public static final String NEXT = TrainStepLayout.NEXT;
  /** Checkpoint metadata key holding the number of steps taken. */
  static final String STEP_KEY = "twicing.step";
  /** Checkpoint metadata key holding the model name. */
  static final String MODEL_KEY = "twicing.model";

  private final Path modelDir;
  private final ModelProto model;
  private final String modelName;
  private final List<String> parameters;
  private final Map<String, long[]> shapes;
  private final Map<String, float[]> values;
  private long steps;

  private TrainingState(Path modelDir, ModelProto model, String modelName, List<String> parameters,
      Map<String, long[]> shapes, Map<String, float[]> values, long steps) {
    this.modelDir = modelDir;
    this.model = model;
    this.modelName = modelName;
    this.parameters = List.copyOf(parameters);
    this.shapes = shapes;
    this.values = values;
    this.steps = steps;
  }

  /**
   * The state before the first step: parameters from the initializers of {@code modelDir/model.onnx}, optimizer
   * state (whose tensors {@code modelDir/train_step.onnx} lists) zero, no steps taken.
   */
  public static TrainingState initial(Path modelDir) throws IOException {
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
    Map<String, TensorProto> inits = new LinkedHashMap<>();
    model.getGraph().getInitializerList().forEach(t -> inits.put(t.getName(), t));
    Map<String, long[]> shapes = new LinkedHashMap<>();
    Map<String, float[]> values = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> p : layout.parameters().entrySet()) {
      shapes.put(p.getKey(), p.getValue());
      values.put(p.getKey(), floats(inits.get(p.getKey()), modelDir, modelFile));
    }
    for (Map.Entry<String, long[]> s : layout.states().entrySet()) {
      shapes.put(s.getKey(), s.getValue());
      values.put(s.getKey(), new float[count(s.getValue())]);
    }
    String name = metadata(model, MODEL_KEY, model.getGraph().getName());
    return new TrainingState(modelDir, model, name, new ArrayList<>(layout.parameters().keySet()), shapes, values,
        0);
  }

  /**
   * The state saved in {@code checkpoint} by {@link #save} for the model in {@code modelDir}: every parameter and
   * state tensor must be there with its shape, and nothing else.
   */
  public static TrainingState restore(Path modelDir, Path checkpoint) throws IOException {
    TrainingState s = initial(modelDir);
    SafetensorsFile file = Safetensors.read(checkpoint);
    List<String> problems = new ArrayList<>();
    for (String name : s.names()) {
      Tensor t = file.tensors().get(name);
      if (t == null) {
        problems.add("missing tensor '" + name + "' (float32" + Arrays.toString(s.shape(name)) + ")");
      } else if (t.dtype() != DType.FLOAT32 || !Arrays.equals(t.shape(), s.shape(name))) {
        problems.add("tensor '" + name + "' is " + t.dtype() + Arrays.toString(t.shape()) + ", expected float32"
            + Arrays.toString(s.shape(name)));
      } else {
        s.values.put(name, t.toFloats());
      }
    }
    for (String name : file.tensors().keySet()) {
      if (!s.shapes.containsKey(name)) {
        problems.add("unknown tensor '" + name + "'");
      }
    }
    String step = file.metadata().get(STEP_KEY);
    try {
      s.steps = step == null ? -1 : Long.parseLong(step);
    } catch (NumberFormatException e) {
      s.steps = -1;
    }
    if (s.steps < 0) {
      problems.add("metadata '" + STEP_KEY + "' is " + (step == null ? "missing" : "'" + step + "'")
          + ", expected the number of steps taken");
    }
    if (!problems.isEmpty()) {
      throw new IOException("checkpoint " + checkpoint + " does not fit the model in " + modelDir + ": "
          + String.join("; ", problems));
    }
    return s;
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

  /**
   * The current values of parameter or state tensor {@code name}, row-major. The array is the live state, not a
   * copy: read it, do not change it.
   */
  public float[] values(String name) {
    return known(values.get(name), name);
  }

  /** The number of steps taken. */
  public long steps() {
    return steps;
  }

  /**
   * Takes one step: replaces every parameter and state tensor with its value in {@code next} (keyed by name,
   * each of the right length) and counts the step. Nothing changes if any value is missing or mis-sized.
   */
  public void advance(Map<String, float[]> next) {
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      float[] v = next.get(e.getKey());
      if (v == null || v.length != count(e.getValue())) {
        throw new IllegalArgumentException("the training step returned " + (v == null ? "no value" : v.length
            + " values") + " for '" + e.getKey() + "', expected float32" + Arrays.toString(e.getValue()));
      }
    }
    shapes.keySet().forEach(name -> values.put(name, next.get(name)));
    steps++;
  }

  /** The parameters as host tensors (copies), by name. */
  public Map<String, Tensor> parameterTensors() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (String name : parameters) {
      out.put(name, tensor(name));
    }
    return out;
  }

  /**
   * Saves parameters, optimizer state and the step count to {@code checkpoint} (safetensors, written
   * atomically); {@link #restore} reads it back.
   */
  public void save(Path checkpoint) throws IOException {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (String name : shapes.keySet()) {
      tensors.put(name, tensor(name));
    }
    Path parent = checkpoint.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Safetensors.write(checkpoint, tensors, Map.of(STEP_KEY, Long.toString(steps), MODEL_KEY, modelName));
  }

  /**
   * Writes {@code modelOnnx}: the loaded {@code model.onnx} with its parameter initializers holding the current
   * values (written atomically; initializers the source kept as external data are written inline).
   */
  public void export(Path modelOnnx) throws IOException {
    Path source = modelDir.resolve(ModelArtifacts.MODEL);
    Set<String> parameterSet = new HashSet<>(parameters);
    GraphProto.Builder g = model.getGraph().toBuilder();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      if (parameterSet.contains(t.getName())) {
        g.setInitializer(i, inline(t, bytes(values.get(t.getName()))));
      } else if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
        g.setInitializer(i, inline(t, externalBytes(t, modelDir, source)));
      }
    }
    ModelWriter.write(model.toBuilder().setGraph(g).build(), modelOnnx);
  }

  private Tensor tensor(String name) {
    float[] v = values.get(name);
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return new Tensor(DType.FLOAT32, shapes.get(name), d);
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

  private static String metadata(ModelProto m, String key, String fallback) {
    for (StringStringEntryProto e : m.getMetadataPropsList()) {
      if (e.getKey().equals(key)) {
        return e.getValue();
      }
    }
    return fallback;
  }

  private static TensorProto inline(TensorProto t, byte[] raw) {
    return t.toBuilder().clearFloatData().clearExternalData().clearDataLocation()
        .setRawData(ByteString.copyFrom(raw)).build();
  }

  private static byte[] bytes(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(v);
    return b.array();
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
