package org.twicing.runtime.train;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.codegen.train.TrainingSpecs;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.io.SafetensorsEntry;
import org.twicing.dsl.io.SafetensorsReader;
import org.twicing.dsl.io.SafetensorsWriter;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Encoding;
import org.twicing.dsl.types.Tensor;
import org.twicing.runtime.Tensors;

/**
 * A training checkpoint: a safetensors file holding every parameter (by its name) and every optimizer state tensor
 * ({@code <param>.<state>}, the train_step graph's input names) as float32, with string metadata: format, model name
 * and configuration (JSON, and flat {@code twicing.config.<key>} entries), step, data position, training spec,
 * learning-rate schedule, planned total steps, plus whatever the caller adds (e.g. how to rebuild the model).
 * Files are written atomically, so a failure midway leaves the previous checkpoint intact.
 */
public final class Checkpoint {
  /** The checkpoint's file name inside a run directory. */
  public static final String FILE_NAME = "checkpoint.safetensors";
  /** Value of {@link #KEY_FORMAT}. */
  public static final String FORMAT = "twicing-checkpoint/1";
  /** Metadata key: the format marker. */
  public static final String KEY_FORMAT = MetadataKeys.FORMAT;
  /** Metadata key: the model name. */
  public static final String KEY_MODEL = MetadataKeys.MODEL;
  /** Metadata key: the model configuration as JSON. */
  public static final String KEY_CONFIG = MetadataKeys.CONFIG;
  /** Prefix of the flat configuration entries, one per {@link TaskModel#config()} key. */
  public static final String CONFIG_PREFIX = MetadataKeys.CONFIG_PREFIX;
  /** Metadata key: the number of optimizer steps taken. */
  public static final String KEY_STEP = MetadataKeys.STEP;
  /** Metadata key: the data position after the last step ({@link BatchSource#position()}). */
  public static final String KEY_DATA_POSITION = MetadataKeys.DATA_POSITION;
  /** Metadata key: the training spec ({@link TrainingSpecs#encode}). */
  public static final String KEY_TRAINING_SPEC = TrainingSpecs.METADATA_KEY;
  /** Metadata key: the learning-rate schedule ({@link LrSchedule#encode()}). */
  public static final String KEY_LR_SCHEDULE = MetadataKeys.LR_SCHEDULE;
  /** Metadata key: the planned total number of steps. */
  public static final String KEY_TOTAL_STEPS = MetadataKeys.TOTAL_STEPS;
  /** Metadata key: training examples seen so far. */
  public static final String KEY_SAMPLES = MetadataKeys.SAMPLES;

  /** A tensor's bytes exported from ONNX Runtime: little-endian data of {@code dtype} and {@code shape}. */
  public record Data(DType dtype, long[] shape, ByteBuffer littleEndian) { }

  private final Path file;
  private final Map<String, String> metadata;
  private final Map<String, SafetensorsEntry> entries;
  private final Map<String, ByteBuffer> raw;

  private Checkpoint(Path file, Map<String, String> metadata, Map<String, SafetensorsEntry> entries,
      Map<String, ByteBuffer> raw) {
    this.file = file;
    this.metadata = Collections.unmodifiableMap(metadata);
    this.entries = Collections.unmodifiableMap(entries);
    this.raw = raw;
  }

  /**
   * Reads a checkpoint (all tensors, as raw bytes); fails naming the file when it is missing, is not a
   * safetensors file or lacks the twicing checkpoint metadata.
   */
  public static Checkpoint read(Path file) throws IOException {
    try (SafetensorsReader r = Safetensors.open(file)) {
      Map<String, String> meta = new LinkedHashMap<>(r.metadata());
      if (!FORMAT.equals(meta.get(KEY_FORMAT))) {
        throw new IOException(file + ": not a twicing training checkpoint (its metadata has "
            + (meta.containsKey(KEY_FORMAT) ? KEY_FORMAT + "='" + meta.get(KEY_FORMAT) + "'" : "no " + KEY_FORMAT)
            + ", expected '" + FORMAT + "')");
      }
      for (String k : List.of(KEY_MODEL, KEY_STEP, KEY_DATA_POSITION, KEY_TRAINING_SPEC)) {
        if (!meta.containsKey(k)) {
          throw new IOException(file + ": checkpoint metadata lacks '" + k + "'");
        }
      }
      Map<String, ByteBuffer> data = new LinkedHashMap<>();
      for (String name : r.entries().keySet()) {
        data.put(name, r.rawData(name));
      }
      Checkpoint c = new Checkpoint(file, meta, new LinkedHashMap<>(r.entries()), data);
      c.step(); // validates the number now, naming the file
      return c;
    }
  }

  /** The file this checkpoint was read from. */
  public Path file() {
    return file;
  }

  /** All metadata. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The metadata value of {@code key}, or null. */
  public String meta(String key) {
    return metadata.get(key);
  }

  /** The tensor names and header entries, in file order. */
  public Map<String, SafetensorsEntry> entries() {
    return entries;
  }

  /** The model name the checkpoint was written for. */
  public String modelName() {
    return metadata.get(KEY_MODEL);
  }

  /** Optimizer steps taken when the checkpoint was written. */
  public long step() {
    try {
      return Long.parseLong(metadata.get(KEY_STEP));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(file + ": metadata '" + KEY_STEP + "' is not a number: '"
          + metadata.get(KEY_STEP) + "'");
    }
  }

  /** The data position to continue from. */
  public String dataPosition() {
    return metadata.get(KEY_DATA_POSITION);
  }

  /** Training examples seen (0 when not recorded). */
  public long samples() {
    String s = metadata.get(KEY_SAMPLES);
    return s == null ? 0 : Long.parseLong(s);
  }

  /** The training spec the checkpoint was written with. */
  public TrainingSpec trainingSpec() {
    return TrainingSpecs.decode(metadata.get(KEY_TRAINING_SPEC), file.toString());
  }

  /** The learning-rate schedule, or null when not recorded. */
  public LrSchedule schedule() {
    String s = metadata.get(KEY_LR_SCHEDULE);
    return s == null ? null : LrSchedule.parse(s);
  }

  /** The planned total steps, or 0 when not recorded. */
  public long totalSteps() {
    String s = metadata.get(KEY_TOTAL_STEPS);
    return s == null ? 0 : Long.parseLong(s);
  }

  /**
   * Checks that this checkpoint holds exactly the parameters of {@code model} (names, shapes, float32) and, when
   * {@code spec} is not null, the optimizer state tensors of its optimizer, and that it was written for the same
   * model configuration. The error names the file and the first tensor (or configuration key) at fault and lists
   * up to five problems.
   */
  public void requireFits(TaskModel model, TrainingSpec spec) {
    List<String> problems = new ArrayList<>();
    String firstTensor = null;
    Set<String> expected = new HashSet<>();
    for (Param p : model.parameters()) {
      List<String> names = new ArrayList<>();
      names.add(p.name());
      if (spec != null) {
        for (String s : spec.optimizer().stateNames()) {
          names.add(p.name() + "." + s);
        }
      }
      for (String n : names) {
        expected.add(n);
        String role = n.equals(p.name()) ? "parameter" : "optimizer state";
        SafetensorsEntry e = entries.get(n);
        String problem = null;
        if (e == null) {
          problem = "missing tensor '" + n + "' (" + role + ", float32" + Arrays.toString(p.shape()) + ")";
        } else if (!Arrays.equals(e.shape(), p.shape())) {
          problem = "tensor '" + n + "' has shape " + Arrays.toString(e.shape()) + " but the model's " + role
              + " has shape " + Arrays.toString(p.shape());
        } else if (e.dtype() != DType.FLOAT32) {
          problem = "tensor '" + n + "' is " + e.dtype() + ", expected float32";
        }
        if (problem != null) {
          problems.add(problem);
          firstTensor = firstTensor == null ? n : firstTensor;
        }
      }
    }
    for (String n : entries.keySet()) {
      if (!expected.contains(n)) {
        boolean isState = spec == null && model.parameters().stream().anyMatch(p -> n.startsWith(p.name() + "."));
        if (!isState) {
          problems.add("unknown tensor '" + n + "' (no parameter" + (spec != null ? " or optimizer state" : "")
              + " of model '" + model.name() + "' has that name)");
          firstTensor = firstTensor == null ? n : firstTensor;
        }
      }
    }
    String origin = modelName() == null || modelName().equals(model.name()) ? ""
        : " (it was written for model '" + modelName() + "')";
    if (!problems.isEmpty()) {
      StringBuilder sb = new StringBuilder(file + ": checkpoint does not fit model '" + model.name() + "'"
          + origin + ": ");
      sb.append(String.join("; ", problems.subList(0, Math.min(5, problems.size()))));
      if (problems.size() > 5) {
        sb.append("; and ").append(problems.size() - 5).append(" more");
      }
      throw new CheckpointMismatchException(file, firstTensor, sb.toString());
    }
    List<String> diffs = new ArrayList<>();
    String firstKey = null;
    for (Map.Entry<String, String> c : model.config().entrySet()) {
      String stored = metadata.get(CONFIG_PREFIX + c.getKey());
      if (stored != null && !stored.equals(c.getValue())) {
        diffs.add(c.getKey() + " is " + stored + " in the checkpoint but " + c.getValue() + " in the model");
        firstKey = firstKey == null ? c.getKey() : firstKey;
      }
    }
    if (!diffs.isEmpty()) {
      throw new CheckpointMismatchException(file, null, file + ": checkpoint was written for another configuration"
          + " of model '" + model.name() + "'" + origin + ": " + String.join("; ", diffs));
    }
    if (spec != null) {
      TrainingSpec stored = trainingSpec();
      if (!stored.optimizer().getClass().equals(spec.optimizer().getClass())) {
        throw new CheckpointMismatchException(file, null, file + ": checkpoint holds the state of optimizer "
            + stored.optimizer().describe() + ", not " + spec.optimizer().describe());
      }
    }
  }

  /** The parameters as host tensors for {@code model}, after {@link #requireFits} (without optimizer state). */
  public StateDict parameters(TaskModel model) {
    requireFits(model, null);
    Map<String, Tensor> m = new LinkedHashMap<>();
    for (Param p : model.parameters()) {
      m.put(p.name(), Encoding.fromBytes(DType.FLOAT32, p.shape(), raw.get(p.name()).duplicate()));
    }
    return StateDict.load(model, m, file.toString());
  }

  /**
   * New ONNX Runtime tensors (the caller closes them) for every parameter and optimizer state tensor of
   * {@code model} under {@code spec}, straight from the file's bytes (bit-exact); checks {@link #requireFits} first.
   */
  public Map<String, OnnxTensor> trainingTensors(TaskModel model, TrainingSpec spec) {
    requireFits(model, spec);
    requireFinite();
    Map<String, OnnxTensor> out = new LinkedHashMap<>();
    try {
      for (Param p : model.parameters()) {
        out.put(p.name(), tensor(p.name()));
        for (String s : spec.optimizer().stateNames()) {
          out.put(p.name() + "." + s, tensor(p.name() + "." + s));
        }
      }
      return out;
    } catch (RuntimeException e) {
      out.values().forEach(OnnxTensor::close);
      throw e;
    }
  }

  /**
   * New ONNX Runtime tensors (the caller closes them) for exactly the float32 tensors {@code expected} names, with
   * those shapes, in that order, straight from the file's bytes; for training-step files that are not built from a
   * {@link TaskModel} (generated trainers). Fails naming the file, {@code target} and up to five problems when a
   * tensor is missing, mis-shaped or unknown, or when any value is not finite.
   *
   * @throws CheckpointMismatchException naming the file and the first tensor at fault
   */
  public Map<String, OnnxTensor> tensors(Map<String, long[]> expected, String target) {
    List<String> problems = new ArrayList<>();
    String firstTensor = null;
    for (Map.Entry<String, long[]> x : expected.entrySet()) {
      SafetensorsEntry e = entries.get(x.getKey());
      String problem = null;
      if (e == null) {
        problem = "missing tensor '" + x.getKey() + "' (float32" + Arrays.toString(x.getValue()) + ")";
      } else if (e.dtype() != DType.FLOAT32 || !Arrays.equals(e.shape(), x.getValue())) {
        problem = "tensor '" + x.getKey() + "' is " + e.dtype() + Arrays.toString(e.shape()) + ", expected float32"
            + Arrays.toString(x.getValue());
      }
      if (problem != null) {
        problems.add(problem);
        firstTensor = firstTensor == null ? x.getKey() : firstTensor;
      }
    }
    for (String n : entries.keySet()) {
      if (!expected.containsKey(n)) {
        problems.add("unknown tensor '" + n + "'");
        firstTensor = firstTensor == null ? n : firstTensor;
      }
    }
    if (!problems.isEmpty()) {
      throw new CheckpointMismatchException(file, firstTensor, file + ": checkpoint does not fit " + target + ": "
          + String.join("; ", problems.subList(0, Math.min(5, problems.size())))
          + (problems.size() > 5 ? "; and " + (problems.size() - 5) + " more" : ""));
    }
    requireFinite();
    Map<String, OnnxTensor> out = new LinkedHashMap<>();
    try {
      for (String n : expected.keySet()) {
        out.put(n, tensor(n));
      }
      return out;
    } catch (RuntimeException e) {
      out.values().forEach(OnnxTensor::close);
      throw e;
    }
  }

  /**
   * Checks that every float32 tensor (parameters and optimizer state) is finite: resuming from NaN or infinite
   * state would only continue a diverged run.
   *
   * @throws CheckpointMismatchException naming the file and the first non-finite tensor
   */
  public void requireFinite() {
    Map<String, Data> data = new LinkedHashMap<>();
    entries.forEach((name, e) -> data.put(name, new Data(e.dtype(), e.shape(), raw.get(name).duplicate())));
    String bad = firstNonFinite(data);
    if (bad != null) {
      String tensor = bad.substring(1, bad.indexOf('\'', 1));
      throw new CheckpointMismatchException(file, tensor, file + ": tensor " + bad.replaceFirst("' \\(",
          "' holds a non-finite value (") + "; the checkpoint holds a diverged state and cannot be used");
    }
  }

  private OnnxTensor tensor(String name) {
    SafetensorsEntry e = entries.get(name);
    ByteBuffer le = raw.get(name).duplicate().order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer nativeBytes;
    if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN && le.isDirect()) {
      nativeBytes = le.order(ByteOrder.nativeOrder());
    } else {
      nativeBytes = ByteBuffer.allocateDirect(le.remaining()).order(ByteOrder.nativeOrder());
      nativeBytes.asFloatBuffer().put(le.asFloatBuffer());
    }
    return Tensors.fromBuffer(nativeBytes, DType.FLOAT32, e.shape());
  }

  /** The metadata every checkpoint of {@code model} carries, before step and data position are added. */
  public static Map<String, String> baseMetadata(TaskModel model, TrainingSpec spec, LrSchedule schedule,
      long totalSteps) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(KEY_FORMAT, FORMAT);
    m.put(KEY_MODEL, model.name());
    m.put(KEY_CONFIG, model.configJson());
    model.config().forEach((k, v) -> m.put(CONFIG_PREFIX + k, v));
    m.put(KEY_TRAINING_SPEC, TrainingSpecs.encode(spec));
    if (schedule != null) {
      m.put(KEY_LR_SCHEDULE, schedule.encode());
    }
    m.put(KEY_TOTAL_STEPS, Long.toString(totalSteps));
    return m;
  }

  /**
   * Copies {@code tensors} out of ONNX Runtime into little-endian host buffers (the only copy a checkpoint needs),
   * keeping the map's order.
   */
  public static Map<String, Data> export(Map<String, OnnxTensor> tensors) {
    Map<String, Data> out = new LinkedHashMap<>();
    for (Map.Entry<String, OnnxTensor> e : tensors.entrySet()) {
      OnnxTensor t = e.getValue();
      DType dtype = Tensors.typeOf(t).dtype();
      long[] shape = Tensors.shapeOf(t);
      ByteBuffer b = t.getByteBuffer().order(ByteOrder.nativeOrder());
      if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
        b = toLittleEndian(b, dtype);
      }
      out.put(e.getKey(), new Data(dtype, shape, b.order(ByteOrder.LITTLE_ENDIAN)));
    }
    return out;
  }

  private static ByteBuffer toLittleEndian(ByteBuffer nativeBytes, DType dtype) {
    ByteBuffer le = ByteBuffer.allocate(nativeBytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
    int size = dtype.byteSize();
    ByteBuffer src = nativeBytes.duplicate().order(ByteOrder.nativeOrder());
    while (src.hasRemaining()) {
      switch (size) {
        case 8 -> le.putLong(src.getLong());
        case 4 -> le.putInt(src.getInt());
        case 2 -> le.putShort(src.getShort());
        default -> le.put(src.get());
      }
    }
    return le.flip();
  }

  /**
   * The first float32 tensor holding a NaN or infinity, described as {@code 'name' (element i is NaN)}, or null
   * when every value is finite.
   */
  public static String firstNonFinite(Map<String, Data> tensors) {
    for (Map.Entry<String, Data> e : tensors.entrySet()) {
      if (e.getValue().dtype() != DType.FLOAT32) {
        continue;
      }
      FloatBuffer f = e.getValue().littleEndian().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      for (int i = 0; i < f.limit(); i++) {
        float v = f.get(i);
        if (!Float.isFinite(v)) {
          return "'" + e.getKey() + "' (element " + i + " is " + v + ")";
        }
      }
    }
    return null;
  }

  /** Writes {@code tensors} and {@code metadata} to {@code file} atomically (temporary file, then rename). */
  public static void write(Path file, Map<String, Data> tensors, Map<String, String> metadata) throws IOException {
    SafetensorsWriter w = new SafetensorsWriter();
    tensors.forEach((name, d) -> w.add(name, d.dtype(), d.shape(), d.littleEndian()));
    w.writeAtomically(file, new TreeMap<>(Objects.requireNonNull(metadata, "metadata")));
  }

  /**
   * Writes tensors whose bytes are streamed by {@code sources} (name to dtype, shape and source), atomically; a
   * source that fails midway leaves any existing {@code file} untouched and no temporary file behind.
   */
  public static void writeStreamed(Path file, Map<String, Streamed> sources, Map<String, String> metadata)
      throws IOException {
    SafetensorsWriter w = new SafetensorsWriter();
    sources.forEach((name, s) -> w.add(name, s.dtype(), s.shape(), s.source()));
    w.writeAtomically(file, new TreeMap<>(metadata));
  }

  /** A tensor whose little-endian bytes are produced while the file is written. */
  public record Streamed(DType dtype, long[] shape, SafetensorsWriter.DataSource source) { }

  @Override
  public String toString() {
    return "Checkpoint(" + file + ", model " + modelName() + ", step " + metadata.get(KEY_STEP) + ", "
        + entries.size() + " tensors)";
  }
}
