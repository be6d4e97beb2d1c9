package org.twicing.codegen.quant;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.onnx.OnnxProtos.AttributeProto;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TypeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;

/**
 * Dynamic int8 quantization of an inference model, with standard ONNX ops only: every MatMul whose right operand
 * is a float weight matrix (an initializer, or the {@code Transpose} of one, as {@code Linear} layers are emitted)
 * becomes {@code DynamicQuantizeLinear} of the activations (uint8, per tensor, computed at run time),
 * {@code MatMulInteger} with the weights stored as int8 with one symmetric scale per output column, a {@code Cast}
 * to float and one {@code Mul} by the product of the two scales. Activation-by-activation products (attention's
 * QKᵀ and AV), softmax, normalisation and everything else stay float32, which is why no calibration set is
 * needed. The training step ({@code training_info}) is dropped: it reads the float weights this removes.
 */
public final class Int8Quantizer {
  /** Metadata key recording how a model was quantized. */
  public static final String METADATA_KEY = MetadataKeys.QUANTIZED;
  /** The value of {@link #METADATA_KEY} for dynamic quantization. */
  public static final String METADATA_VALUE = "int8 dynamic: DynamicQuantizeLinear + MatMulInteger, per-column "
      + "symmetric int8 weights";
  /** The value of {@link #METADATA_KEY} for static (calibrated) quantization. */
  public static final String METADATA_VALUE_STATIC = "int8 static: QuantizeLinear with calibrated activation "
      + "ranges + MatMulInteger, per-column symmetric int8 weights";

  /** The range of an activation seen during calibration (widened to include 0 when quantized). */
  public record Range(float min, float max) {
    /** The union of this range and {@code other}. */
    public Range union(Range other) {
      return new Range(Math.min(min, other.min), Math.max(max, other.max));
    }
  }

  private Int8Quantizer() { }

  /** What {@link #quantize} did. */
  public record Result(ModelProto model, int quantizedMatMuls, int keptMatMuls, long floatWeightBytes,
      long int8WeightBytes) { }

  /** The dynamically quantized model (activation scales computed at run time); the input is not changed. */
  public static Result quantize(ModelProto model) {
    return quantize(model, null);
  }

  /**
   * The activations whose ranges a static quantization needs: the float left operand of every MatMul that
   * {@link #quantize} turns into int8, in graph order, each once.
   */
  public static List<String> calibrationPoints(ModelProto model) {
    Map<String, TensorProto> inits = new LinkedHashMap<>();
    model.getGraph().getInitializerList().forEach(t -> inits.put(t.getName(), t));
    Map<String, NodeProto> producer = new HashMap<>();
    model.getGraph().getNodeList().forEach(n -> n.getOutputList().forEach(o -> producer.put(o, n)));
    Set<String> points = new LinkedHashSet<>();
    for (NodeProto n : model.getGraph().getNodeList()) {
      if (weightOf(n, inits, producer) != null) {
        points.add(n.getInput(0));
      }
    }
    return List.copyOf(points);
  }

  /** {@code model} with the named intermediate float values added as graph outputs (for calibration runs). */
  public static ModelProto withOutputs(ModelProto model, List<String> names) {
    GraphProto.Builder g = model.getGraph().toBuilder();
    Set<String> present = new HashSet<>();
    g.getOutputList().forEach(o -> present.add(o.getName()));
    for (String name : names) {
      if (present.add(name)) {
        g.addOutput(ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
            TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE))));
      }
    }
    return model.toBuilder().setGraph(g).clearTrainingInfo().build();
  }

  /**
   * Statically quantized with the calibrated {@code ranges} of {@link #calibrationPoints}: each activation gets a
   * fixed uint8 scale and zero point (a single QuantizeLinear pass instead of DynamicQuantizeLinear's min/max
   * reduction and quantization), and each MatMul's output scale is one constant. Values outside the calibrated
   * range saturate. With {@code ranges} null this is {@link #quantize(ModelProto)}.
   */
  public static Result quantize(ModelProto model, Map<String, Range> ranges) {
    GraphProto g = model.getGraph();
    Map<String, TensorProto> inits = new LinkedHashMap<>();
    g.getInitializerList().forEach(t -> inits.put(t.getName(), t));
    Map<String, NodeProto> producer = new HashMap<>();
    Map<String, Integer> uses = new HashMap<>();
    for (NodeProto n : g.getNodeList()) {
      n.getOutputList().forEach(o -> producer.put(o, n));
      n.getInputList().forEach(i -> uses.merge(i, 1, Integer::sum));
    }
    g.getOutputList().forEach(o -> uses.merge(o.getName(), 1, Integer::sum));

    List<NodeProto> nodes = new ArrayList<>();
    Map<String, String[]> quantizedInputs = new HashMap<>(); // activation -> (q, scale, zero point)
    Set<NodeProto> dropped = new HashSet<>();
    Set<String> usedInits = new HashSet<>();
    List<TensorProto> newInits = new ArrayList<>();
    int done = 0;
    int kept = 0;
    long floatBytes = 0;
    long int8Bytes = 0;
    for (NodeProto n : g.getNodeList()) {
      if (!isMatMul(n)) {
        nodes.add(n);
        continue;
      }
      String b = n.getInput(1);
      WeightRef ref = weightOf(n, inits, producer);
      if (ref == null) {
        kept++;
        nodes.add(n);
        continue;
      }
      float[][] w = ref.matrix(); // [K][N]
      NodeProto transpose = ref.transposed() ? producer.get(b) : null;
      int k = w.length;
      int cols = w[0].length;
      byte[] q = new byte[k * cols];
      float[] scale = new float[cols];
      for (int j = 0; j < cols; j++) {
        float max = 0;
        for (int i = 0; i < k; i++) {
          max = Math.max(max, Math.abs(w[i][j]));
        }
        scale[j] = max == 0 ? 1f : max / 127f;
        for (int i = 0; i < k; i++) {
          q[i * cols + j] = (byte) Math.max(-127, Math.min(127, Math.round(w[i][j] / scale[j])));
        }
      }
      String base = n.getOutput(0);
      String a = n.getInput(0);
      String[] aq = quantizedInputs.get(a);
      float[] fixed = null; // static: {scale, zero point} of the activation
      if (ranges != null) {
        Range r = ranges.get(a);
        if (r == null) {
          throw new IllegalArgumentException("no calibrated range for activation '" + a + "' (the input of MatMul "
              + n.getName() + "); calibrate every name of calibrationPoints()");
        }
        fixed = uint8ScaleAndZeroPoint(r);
      }
      if (aq == null) {
        if (fixed == null) {
          aq = new String[] {a + "/dq/q", a + "/dq/scale", a + "/dq/zero_point"};
          nodes.add(NodeProto.newBuilder().setOpType("DynamicQuantizeLinear").setName(a + "/dq").addInput(a)
              .addOutput(aq[0]).addOutput(aq[1]).addOutput(aq[2]).build());
        } else {
          aq = new String[] {a + "/q/q", a + "/q/scale", a + "/q/zero_point"};
          newInits.add(floats(aq[1], new long[0], new float[] {fixed[0]}));
          newInits.add(raw(aq[2], TensorProto.DataType.UINT8, new long[0], new byte[] {(byte) (int) fixed[1]}));
          nodes.add(NodeProto.newBuilder().setOpType("QuantizeLinear").setName(a + "/q").addInput(a)
              .addInput(aq[1]).addInput(aq[2]).addOutput(aq[0]).build());
        }
        quantizedInputs.put(a, aq);
      }
      String wq = base + "/w_int8";
      String wzp = base + "/w_zero_point";
      String ws = base + "/w_scale";
      newInits.add(raw(wq, TensorProto.DataType.INT8, new long[] {k, cols}, q));
      newInits.add(raw(wzp, TensorProto.DataType.INT8, new long[] {cols}, new byte[cols]));
      if (fixed == null) {
        newInits.add(floats(ws, new long[] {cols}, scale));
      }
      nodes.add(NodeProto.newBuilder().setOpType("MatMulInteger").setName(n.getName() + "/int8")
          .addInput(aq[0]).addInput(wq).addInput(aq[2]).addInput(wzp).addOutput(base + "/int32").build());
      nodes.add(NodeProto.newBuilder().setOpType("Cast").setName(n.getName() + "/to_float")
          .addInput(base + "/int32").addOutput(base + "/float")
          .addAttribute(AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT)
              .setI(TensorProto.DataType.FLOAT_VALUE)).build());
      if (fixed == null) {
        nodes.add(NodeProto.newBuilder().setOpType("Mul").setName(n.getName() + "/scales").addInput(aq[1])
            .addInput(ws).addOutput(base + "/scale").build());
      } else {
        // Both scales are known: their product per column is one constant, as DynamicQuantizeLinear's would be.
        float[] both = new float[cols];
        for (int j = 0; j < cols; j++) {
          both[j] = fixed[0] * scale[j];
        }
        newInits.add(floats(base + "/scale", new long[] {cols}, both));
      }
      nodes.add(NodeProto.newBuilder().setOpType("Mul").setName(n.getName() + "/dequantize")
          .addInput(base + "/float").addInput(base + "/scale").addOutput(base).build());
      if (transpose != null && uses.getOrDefault(b, 0) == 1) {
        dropped.add(transpose);
      }
      floatBytes += 4L * k * cols;
      int8Bytes += (long) k * cols + 5L * cols;
      done++;
    }
    List<NodeProto> out = new ArrayList<>();
    for (NodeProto n : nodes) {
      if (!dropped.contains(n)) {
        out.add(n);
        n.getInputList().forEach(usedInits::add);
      }
    }
    GraphProto.Builder gb = g.toBuilder().clearNode().addAllNode(out).clearInitializer();
    for (TensorProto t : inits.values()) {
      if (usedInits.contains(t.getName())) {
        gb.addInitializer(t);
      }
    }
    gb.addAllInitializer(newInits);
    ModelProto.Builder mb = model.toBuilder().setGraph(gb).clearTrainingInfo();
    List<StringStringEntryProto> meta = new ArrayList<>();
    for (StringStringEntryProto e : model.getMetadataPropsList()) {
      if (!e.getKey().equals(METADATA_KEY)) {
        meta.add(e);
      }
    }
    meta.add(StringStringEntryProto.newBuilder().setKey(METADATA_KEY)
        .setValue(ranges == null ? METADATA_VALUE : METADATA_VALUE_STATIC).build());
    mb.clearMetadataProps().addAllMetadataProps(meta);
    return new Result(mb.build(), done, kept, floatBytes, int8Bytes);
  }

  private static boolean isMatMul(NodeProto n) {
    return n.getOpType().equals("MatMul") && n.getDomain().isEmpty();
  }

  /** A MatMul's float weight initializer, and whether the graph transposes it before the product. */
  private record WeightRef(TensorProto tensor, boolean transposed) {
    /** The weight as [K][N]. */
    float[][] matrix() {
      return Int8Quantizer.matrix(tensor, transposed);
    }
  }

  /**
   * The weight of a MatMul whose right operand is a float initializer matrix or the plain Transpose of one; null
   * for any other node (activation-by-activation products stay float32). Reads no weight values.
   */
  private static WeightRef weightOf(NodeProto n, Map<String, TensorProto> inits, Map<String, NodeProto> producer) {
    if (!isMatMul(n)) {
      return null;
    }
    String b = n.getInput(1);
    if (inits.containsKey(b) && isFloatMatrix(inits.get(b))) {
      return new WeightRef(inits.get(b), false);
    }
    NodeProto t = producer.get(b);
    if (t != null && isPlainTranspose(t) && inits.containsKey(t.getInput(0)) && isFloatMatrix(inits.get(t.getInput(0)))) {
      return new WeightRef(inits.get(t.getInput(0)), true);
    }
    return null;
  }

  /**
   * The uint8 scale and zero point of a calibrated range, as the ONNX spec's DynamicQuantizeLinear would compute
   * them for data spanning it: the range widened to include 0, scale (max − min) / 255, zero point
   * round-half-even(−min / scale) clamped to [0, 255].
   */
  static float[] uint8ScaleAndZeroPoint(Range r) {
    double min = Math.min(0, r.min());
    double max = Math.max(0, r.max());
    float scale = (float) ((max - min) / 255);
    if (scale == 0 || !Float.isFinite(scale)) {
      throw new IllegalArgumentException("calibrated range " + r + " gives no usable int8 scale");
    }
    double zp = Math.max(0, Math.min(255, Math.rint(-min / scale)));
    return new float[] {scale, (float) zp};
  }

  private static boolean isPlainTranspose(NodeProto n) {
    if (!n.getOpType().equals("Transpose") || !n.getDomain().isEmpty()) {
      return false;
    }
    for (AttributeProto a : n.getAttributeList()) {
      if (a.getName().equals("perm")) {
        return a.getIntsCount() == 2 && a.getInts(0) == 1 && a.getInts(1) == 0;
      }
    }
    return true; // no perm: reverses the axes, a plain transpose for a matrix
  }

  private static boolean isFloatMatrix(TensorProto t) {
    return t.getDataType() == TensorProto.DataType.FLOAT_VALUE && t.getDimsCount() == 2
        && t.getExternalDataCount() == 0;
  }

  /** The matrix of a float initializer as [K][N], transposed first when {@code transpose}. */
  private static float[][] matrix(TensorProto t, boolean transpose) {
    int r = (int) t.getDims(0);
    int c = (int) t.getDims(1);
    float[] v = new float[r * c];
    if (t.hasRawData()) {
      ByteBuffer.wrap(t.getRawData().toByteArray()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
    } else {
      for (int i = 0; i < v.length; i++) {
        v[i] = t.getFloatData(i);
      }
    }
    float[][] m = transpose ? new float[c][r] : new float[r][c];
    for (int i = 0; i < r; i++) {
      for (int j = 0; j < c; j++) {
        if (transpose) {
          m[j][i] = v[i * c + j];
        } else {
          m[i][j] = v[i * c + j];
        }
      }
    }
    return m;
  }

  private static TensorProto raw(String name, TensorProto.DataType type, long[] dims, byte[] data) {
    TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(type.getNumber())
        .setRawData(ByteString.copyFrom(data));
    for (long d : dims) {
      b.addDims(d);
    }
    return b.build();
  }

  private static TensorProto floats(String name, long[] dims, float[] data) {
    ByteBuffer buf = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : data) {
      buf.putFloat(f);
    }
    return raw(name, TensorProto.DataType.FLOAT, dims, buf.array());
  }
}
