package org.twicing.models.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.TypeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;

/**
 * What a case's model asks of us before anything runs: the op it tests, the op types it contains, and the value
 * kinds and element types of its inputs and outputs (we hold only dense tensors of {@link DType}'s types).
 */
public final class CaseModel {
  /** ONNX {@code TensorProto.DataType} names, for element types {@link DType} does not hold. */
  private static final Map<Integer, String> ONNX_TYPE_NAMES = Map.ofEntries(
      Map.entry(0, "undefined"), Map.entry(1, "float32"), Map.entry(2, "uint8"), Map.entry(3, "int8"),
      Map.entry(4, "uint16"), Map.entry(5, "int16"), Map.entry(6, "int32"), Map.entry(7, "int64"),
      Map.entry(8, "string"), Map.entry(9, "bool"), Map.entry(10, "float16"), Map.entry(11, "float64"),
      Map.entry(12, "uint32"), Map.entry(13, "uint64"), Map.entry(14, "complex64"), Map.entry(15, "complex128"),
      Map.entry(16, "bfloat16"), Map.entry(17, "float8e4m3fn"), Map.entry(18, "float8e4m3fnuz"),
      Map.entry(19, "float8e5m2"), Map.entry(20, "float8e5m2fnuz"), Map.entry(21, "uint4"), Map.entry(22, "int4"),
      Map.entry(23, "float4e2m1"));

  private CaseModel() { }

  /**
   * The op type a case tests: the node's op type for ONNX's one-node cases; for an {@code _expanded} case (the
   * op's function body inlined) the op of its non-expanded twin, passed as {@code twinOp} (may be null), else
   * the op types it contains joined with '+'.
   */
  public static String opUnderTest(ModelProto model, String twinOp) {
    GraphProto g = model.getGraph();
    if (g.getNodeCount() == 1) {
      return qualified(g.getNode(0));
    }
    if (twinOp != null) {
      return twinOp;
    }
    return String.join("+", opTypes(model));
  }

  /** The op types of the top-level graph's nodes, sorted, with a non-default domain prefixed ({@code dom:Op}). */
  public static Set<String> opTypes(ModelProto model) {
    Set<String> out = new TreeSet<>();
    for (NodeProto n : model.getGraph().getNodeList()) {
      out.add(qualified(n));
    }
    return out;
  }

  /** The op types in {@code model} that our op registry does not hold (any non-default domain included). */
  public static List<String> unclaimedOps(ModelProto model) {
    List<String> out = new ArrayList<>();
    for (String op : opTypes(model)) {
      if (op.contains(":") || Ops.byOnnxType(op) == null) {
        out.add(op);
      }
    }
    return out;
  }

  /**
   * Why the model's graph inputs or outputs cannot be held by our tensors (a sequence, map or optional value, or
   * an element type outside {@link DType}), or null when they all can.
   */
  public static String unsupportedValues(ModelProto model) {
    GraphProto g = model.getGraph();
    for (ValueInfoProto v : g.getInputList()) {
      String why = unsupportedType(v.getType());
      if (why != null) {
        return "input '" + v.getName() + "' is " + why;
      }
    }
    for (ValueInfoProto v : g.getOutputList()) {
      String why = unsupportedType(v.getType());
      if (why != null) {
        return "output '" + v.getName() + "' is " + why;
      }
    }
    return null;
  }

  /** Why a value of {@code type} cannot be held by our tensors, or null when it can. */
  static String unsupportedType(TypeProto type) {
    return switch (type.getValueCase()) {
      case TENSOR_TYPE -> unsupportedElementType(type.getTensorType().getElemType());
      case SEQUENCE_TYPE -> "a sequence (only dense tensors are supported)";
      case MAP_TYPE -> "a map (only dense tensors are supported)";
      case OPTIONAL_TYPE -> "an optional (only dense tensors are supported)";
      case SPARSE_TENSOR_TYPE -> "a sparse tensor (only dense tensors are supported)";
      case VALUE_NOT_SET -> "untyped";
    };
  }

  /** Why ONNX element type {@code code} is not held by {@link DType}, or null when it is. */
  public static String unsupportedElementType(int code) {
    for (DType t : DType.values()) {
      if (t.onnxCode() == code) {
        return null;
      }
    }
    return "of element type " + ONNX_TYPE_NAMES.getOrDefault(code, "code " + code) + " (supported: "
        + supportedTypes() + ")";
  }

  private static String supportedTypes() {
    List<String> names = new ArrayList<>();
    for (DType t : DType.values()) {
      names.add(t.toString());
    }
    return String.join(", ", names);
  }

  /** The default-domain opset the model imports (0 when it imports none). */
  public static long defaultOpset(ModelProto model) {
    return model.getOpsetImportList().stream()
        .filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
        .mapToLong(o -> o.getVersion()).max().orElse(0);
  }

  private static String qualified(NodeProto n) {
    String d = n.getDomain();
    return d.isEmpty() || d.equals("ai.onnx") ? n.getOpType() : d + ":" + n.getOpType();
  }
}
