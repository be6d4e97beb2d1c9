package org.twicing.codegen.quant;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
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
  /** The value of {@link #METADATA_KEY}. */
  public static final String METADATA_VALUE = "int8 dynamic: DynamicQuantizeLinear + MatMulInteger, per-column "
      + "symmetric int8 weights";

  private Int8Quantizer() { }

  /** What {@link #quantize} did. */
  public record Result(ModelProto model, int quantizedMatMuls, int keptMatMuls, long floatWeightBytes,
      long int8WeightBytes) { }

  /** The quantized model; the input is not changed. */
  public static Result quantize(ModelProto model) {
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
      if (!n.getOpType().equals("MatMul") || !n.getDomain().isEmpty()) {
        nodes.add(n);
        continue;
      }
      String b = n.getInput(1);
      float[][] w = null; // [K][N]
      NodeProto transpose = null;
      if (inits.containsKey(b) && isFloatMatrix(inits.get(b))) {
        w = matrix(inits.get(b), false);
      } else if (producer.containsKey(b) && isPlainTranspose(producer.get(b))
          && inits.containsKey(producer.get(b).getInput(0)) && isFloatMatrix(inits.get(producer.get(b).getInput(0)))) {
        transpose = producer.get(b);
        w = matrix(inits.get(transpose.getInput(0)), true);
      }
      if (w == null) {
        kept++;
        nodes.add(n);
        continue;
      }
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
      if (aq == null) {
        aq = new String[] {a + "/dq/q", a + "/dq/scale", a + "/dq/zero_point"};
        nodes.add(NodeProto.newBuilder().setOpType("DynamicQuantizeLinear").setName(a + "/dq").addInput(a)
            .addOutput(aq[0]).addOutput(aq[1]).addOutput(aq[2]).build());
        quantizedInputs.put(a, aq);
      }
      String wq = base + "/w_int8";
      String wzp = base + "/w_zero_point";
      String ws = base + "/w_scale";
      newInits.add(raw(wq, TensorProto.DataType.INT8, new long[] {k, cols}, q));
      newInits.add(raw(wzp, TensorProto.DataType.INT8, new long[] {cols}, new byte[cols]));
      newInits.add(floats(ws, new long[] {cols}, scale));
      nodes.add(NodeProto.newBuilder().setOpType("MatMulInteger").setName(n.getName() + "/int8")
          .addInput(aq[0]).addInput(wq).addInput(aq[2]).addInput(wzp).addOutput(base + "/int32").build());
      nodes.add(NodeProto.newBuilder().setOpType("Cast").setName(n.getName() + "/to_float")
          .addInput(base + "/int32").addOutput(base + "/float")
          .addAttribute(AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT)
              .setI(TensorProto.DataType.FLOAT_VALUE)).build());
      nodes.add(NodeProto.newBuilder().setOpType("Mul").setName(n.getName() + "/scales").addInput(aq[1])
          .addInput(ws).addOutput(base + "/scale").build());
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
    meta.add(StringStringEntryProto.newBuilder().setKey(METADATA_KEY).setValue(METADATA_VALUE).build());
    mb.clearMetadataProps().addAllMetadataProps(meta);
    return new Result(mb.build(), done, kept, floatBytes, int8Bytes);
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
