package org.twicing.codegen.tensorrt;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;

/**
 * Static checks that an inference model is fit for TensorRT's ONNX parser, and the optimization profile
 * (min/opt/max shapes of its symbolic input dims) to build an engine with. The rules are the parser's documented
 * restrictions that hold across TensorRT 8.6–10: default domain, opset 17 or newer only where TensorRT has it,
 * no training-only or unsupported ops, and the inputs TensorRT needs as build-time constants.
 */
public final class TensorRtCheck {
  /** Ops of our registry TensorRT's parser does not take in an inference engine. */
  static final Set<String> UNSUPPORTED = Set.of("OneHot");
  /** Ops that only belong in training graphs. */
  static final Set<String> TRAINING_ONLY = Set.of("Dropout");
  /** For these ops, the input at this index must be a build-time constant (initializer or Constant node). */
  static final Map<String, Integer> CONSTANT_INPUT = Map.of("Conv", 1, "Squeeze", 1, "Unsqueeze", 1, "Pad", 1);
  /** Slice's axes input (index 3) must be constant. */
  static final int SLICE_AXES = 3;

  private TensorRtCheck() { }

  /** One finding: the node (or the model) at fault and what TensorRT needs instead. */
  public record Finding(String where, String problem) {
    @Override
    public String toString() {
      return where + ": " + problem;
    }
  }

  /** The problems TensorRT's parser would have with {@code model}; empty when it is fit. */
  public static List<Finding> check(ModelProto model) {
    List<Finding> out = new ArrayList<>();
    for (OperatorSetIdProto o : model.getOpsetImportList()) {
      boolean onnx = o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx");
      if (!onnx) {
        out.add(new Finding("model", "imports custom domain '" + o.getDomain() + "' (TensorRT needs plugins)"));
      } else if (o.getVersion() < 17) {
        out.add(new Finding("model", "opset " + o.getVersion() + " lacks LayerNormalization; emit opset 17"));
      }
    }
    GraphProto g = model.getGraph();
    Set<String> constants = new HashSet<>();
    g.getInitializerList().forEach(t -> constants.add(t.getName()));
    for (NodeProto n : g.getNodeList()) {
      if (n.getOpType().equals("Constant")) {
        constants.addAll(n.getOutputList());
      }
    }
    for (NodeProto n : g.getNodeList()) {
      String where = "node " + n.getName() + " (" + n.getOpType() + ")";
      if (!n.getDomain().isEmpty() && !n.getDomain().equals("ai.onnx")) {
        out.add(new Finding(where, "custom domain '" + n.getDomain() + "'"));
      }
      if (UNSUPPORTED.contains(n.getOpType())) {
        out.add(new Finding(where, "not supported by TensorRT's ONNX parser"));
      }
      if (TRAINING_ONLY.contains(n.getOpType())) {
        out.add(new Finding(where, "training-only op in an inference graph; emit the inference model"));
      }
      Integer idx = CONSTANT_INPUT.get(n.getOpType());
      if (idx != null && n.getInputCount() > idx && !n.getInput(idx).isEmpty()
          && !constants.contains(n.getInput(idx))) {
        out.add(new Finding(where, "input " + idx + " '" + n.getInput(idx) + "' must be an initializer or Constant"));
      }
      if (n.getOpType().equals("Slice") && n.getInputCount() > SLICE_AXES
          && !constants.contains(n.getInput(SLICE_AXES))) {
        out.add(new Finding(where, "axes '" + n.getInput(SLICE_AXES) + "' must be an initializer or Constant"));
      }
    }
    return out;
  }

  /**
   * Min/opt/max shapes of every input: symbolic dims named in {@code ranges} (e.g. batch → [1, 8, 64]) take those
   * sizes; other symbolic dims are an error naming the input and the dim.
   */
  public static Map<String, long[][]> profile(ModelProto model, Map<String, long[]> ranges) {
    Set<String> inits = new HashSet<>();
    model.getGraph().getInitializerList().forEach(t -> inits.add(t.getName()));
    Map<String, long[][]> out = new LinkedHashMap<>();
    for (ValueInfoProto in : model.getGraph().getInputList()) {
      if (inits.contains(in.getName())) {
        continue;
      }
      List<TensorShapeProto.Dimension> dims = in.getType().getTensorType().getShape().getDimList();
      long[][] p = new long[3][dims.size()];
      for (int i = 0; i < dims.size(); i++) {
        TensorShapeProto.Dimension d = dims.get(i);
        for (int k = 0; k < 3; k++) {
          if (d.hasDimValue()) {
            p[k][i] = d.getDimValue();
          } else {
            long[] r = ranges.get(d.getDimParam());
            if (r == null) {
              throw new IllegalArgumentException("input '" + in.getName() + "' dimension " + i + " '"
                  + d.getDimParam() + "' has no range; give min/opt/max for it (known: " + ranges.keySet() + ")");
            }
            p[k][i] = r[k];
          }
        }
      }
      out.put(in.getName(), p);
    }
    return out;
  }

  /** The profile as trtexec flags: {@code --minShapes=pixels:1x1x28x28 --optShapes=... --maxShapes=...}. */
  public static String trtexecFlags(Map<String, long[][]> profile) {
    String[] names = {"--minShapes=", "--optShapes=", "--maxShapes="};
    StringBuilder sb = new StringBuilder();
    for (int k = 0; k < 3; k++) {
      if (k > 0) {
        sb.append(' ');
      }
      sb.append(names[k]);
      boolean first = true;
      for (Map.Entry<String, long[][]> e : profile.entrySet()) {
        sb.append(first ? "" : ",").append(e.getKey()).append(':');
        first = false;
        long[] s = e.getValue()[k];
        for (int i = 0; i < s.length; i++) {
          sb.append(i > 0 ? "x" : "").append(s[i]);
        }
      }
    }
    return sb.toString();
  }
}
