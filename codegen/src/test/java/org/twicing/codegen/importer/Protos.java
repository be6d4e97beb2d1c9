package org.twicing.codegen.importer;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.twicing.codegen.onnx.OnnxProtos.AttributeProto;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.TypeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;

/** Hand-built ONNX protos for importer tests, written field by field as the ONNX IR spec defines them. */
final class Protos {
  private Protos() { }

  /** A node {@code op(inputs) -> outputs} named {@code name}. */
  static NodeProto node(String op, String name, List<String> inputs, List<String> outputs,
      AttributeProto... attrs) {
    return NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs).addAllOutput(outputs)
        .addAllAttribute(List.of(attrs)).build();
  }

  /** An INTS attribute. */
  static AttributeProto ints(String name, long... v) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long x : v) {
      a.addInts(x);
    }
    return a.build();
  }

  /** An INT attribute. */
  static AttributeProto integer(String name, long v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
  }

  /** A FLOAT attribute. */
  static AttributeProto real(String name, float v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
  }

  /** A FLOATS attribute. */
  static AttributeProto reals(String name, float... v) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name)
        .setType(AttributeProto.AttributeType.FLOATS);
    for (float x : v) {
      a.addFloats(x);
    }
    return a.build();
  }

  /** A STRING attribute. */
  static AttributeProto string(String name, String v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
        .setS(ByteString.copyFrom(v, StandardCharsets.UTF_8)).build();
  }

  /** A TENSOR attribute. */
  static AttributeProto tensor(String name, TensorProto t) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.TENSOR).setT(t).build();
  }

  /** A float32 tensor stored in {@code float_data}. */
  static TensorProto floats(String name, long[] dims, float... v) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(1);
    for (long d : dims) {
      t.addDims(d);
    }
    for (float x : v) {
      t.addFloatData(x);
    }
    return t.build();
  }

  /** An int64 tensor stored in {@code int64_data}. */
  static TensorProto longs(String name, long[] dims, long... v) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(7);
    for (long d : dims) {
      t.addDims(d);
    }
    for (long x : v) {
      t.addInt64Data(x);
    }
    return t.build();
  }

  /** A tensor value info; dims are Longs (dim_value) or Strings (dim_param). */
  static ValueInfoProto info(String name, int elemType, Object... dims) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (Object d : dims) {
      s.addDim(d instanceof String p ? TensorShapeProto.Dimension.newBuilder().setDimParam(p)
          : TensorShapeProto.Dimension.newBuilder().setDimValue(((Number) d).longValue()));
    }
    return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
        .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(s))).build();
  }

  /** A model of one graph at the given default-domain opset, produced by "handmade 1". */
  static ModelProto model(long opset, List<NodeProto> nodes, List<ValueInfoProto> inputs,
      List<ValueInfoProto> outputs, List<TensorProto> initializers) {
    GraphProto g = GraphProto.newBuilder().setName("g").addAllNode(nodes).addAllInput(inputs)
        .addAllOutput(outputs).addAllInitializer(initializers).build();
    return ModelProto.newBuilder().setIrVersion(8).setProducerName("handmade").setProducerVersion("1")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).setGraph(g).build();
  }
}
