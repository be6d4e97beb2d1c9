package org.twicing.codegen.emit;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.twicing.codegen.importer.TensorProtos;
import org.twicing.codegen.onnx.OnnxProtos.AttributeProto;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.TypeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.CoreOps;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Lowers a built {@link Graph} to an ONNX {@link ModelProto}: deterministic, default domain only. */
public final class OnnxEmitter {
  private OnnxEmitter() { }

  /**
   * The model for {@code graph} under {@code options}. A training step (a graph that outputs {@code X.next} for
   * its own parameter X) must take its parameters as inputs, so emitting one with parameters as initializers is
   * refused: its updates could never be fed back.
   */
  public static ModelProto emit(Graph graph, EmitOptions options) {
    if (options.parameterMode() == EmitOptions.ParameterMode.INITIALIZERS) {
      requireNoParameterUpdates(graph);
    }
    ModelProto.Builder m = ModelProto.newBuilder()
        .setIrVersion(options.irVersion())
        .setProducerName(options.producerName())
        .setProducerVersion(options.producerVersion())
        .setDomain("org.twicing")
        .setModelVersion(1)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(options.opset()))
        .setGraph(graph(graph, options));
    String doc = options.docString().isEmpty() ? graph.docString() : options.docString();
    if (!doc.isEmpty()) {
      m.setDocString(doc);
    }
    Map<String, String> meta = new LinkedHashMap<>(graph.metadata());
    meta.putAll(options.metadata());
    meta.forEach((k, v) -> m.addMetadataProps(entry(k, v)));
    return m.build();
  }

  /** Throws when {@code graph} returns an update {@code X.next} of one of its own parameters X. */
  private static void requireNoParameterUpdates(Graph graph) {
    for (Value p : graph.parameters().keySet()) {
      if (graph.outputs().containsKey(p.name() + ".next")) {
        throw new IllegalArgumentException("graph '" + graph.name() + "' is a training step (it outputs '"
            + p.name() + ".next', the update of its parameter '" + p.name() + "'), so its parameters must be graph"
            + " inputs, not initializers: emit it with EmitOptions.training() or ModelArtifacts.trainStepModel(...),"
            + " or write every file with ModelArtifacts.writeAll(...)");
      }
    }
  }

  /** The GraphProto for {@code graph} (also used for training_info algorithm graphs). */
  public static GraphProto graph(Graph graph, EmitOptions options) {
    GraphProto.Builder g = GraphProto.newBuilder().setName(graph.name());
    if (!graph.docString().isEmpty()) {
      g.setDocString(graph.docString());
    }
    for (Value in : graph.inputs()) {
      g.addInput(valueInfo(in.name(), in.type()));
    }
    graph.parameters().forEach((p, t) -> {
      switch (options.parameterMode()) {
        case INPUTS -> g.addInput(valueInfo(p.name(), p.type()));
        case INITIALIZERS -> g.addInitializer(tensor(p.name(), t));
        case REFERENCED -> { }
        default -> throw new IllegalStateException();
      }
    });
    Set<Value> read = readValues(graph);
    Map<Value, String> aliases = new HashMap<>();
    Set<Node> elided = new HashSet<>();
    outputAliases(graph, aliases, elided);
    Function<Value, String> names = v -> aliases.getOrDefault(v, v.name());
    for (Node n : graph.nodes()) {
      if (!elided.contains(n)) {
        node(n, options, g, names, "", read);
      }
    }
    graph.outputs().forEach((name, v) -> g.addOutput(valueInfo(name, v.type())));
    dropUnreadConstants(g);
    return g.build();
  }

  /**
   * Removes Constant nodes nothing reads: a node written as primitives ({@link org.twicing.dsl.ir.OpDef#primitives})
   * may not read every constant operand the node had (OneHot's depth and values become part of its lowering).
   */
  private static void dropUnreadConstants(GraphProto.Builder g) {
    Set<String> read = new HashSet<>();
    for (NodeProto n : g.getNodeList()) {
      read.addAll(n.getInputList());
    }
    g.getOutputList().forEach(o -> read.add(o.getName()));
    for (int i = g.getNodeCount() - 1; i >= 0; i--) {
      NodeProto n = g.getNode(i);
      if (n.getOpType().equals("Constant") && n.getDomain().isEmpty()
          && n.getOutputList().stream().noneMatch(read::contains)) {
        g.removeNode(i);
      }
    }
  }

  /**
   * Graph outputs whose value is an Identity of an internal node output (how {@code GraphBuilder.output} renames):
   * that node output is written under the output's name instead and the Identity is left out, which saves ONNX
   * Runtime a copy per output (a training step has one per parameter and optimizer state). Inputs, parameters,
   * values that are themselves outputs, and a value behind several outputs (after the first) keep their Identity.
   */
  private static void outputAliases(Graph graph, Map<Value, String> aliases, Set<Node> elided) {
    Set<Value> outputValues = new HashSet<>(graph.outputs().values());
    graph.outputs().forEach((name, out) -> {
      Node n = graph.producer(out);
      if (n == null || n.op() != CoreOps.IDENTITY || n.outputs().size() != 1) {
        return;
      }
      Value inner = n.input(0);
      if (inner.kind() != Value.Kind.NODE || outputValues.contains(inner) || aliases.containsKey(inner)) {
        return;
      }
      aliases.put(inner, name);
      elided.add(n);
    });
  }

  /** A ValueInfoProto with the tensor type; symbolic dims become dim_param. */
  public static ValueInfoProto valueInfo(String name, TensorType type) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (Dim d : type.shape().dims()) {
      shape.addDim(d.isFixed() ? TensorShapeProto.Dimension.newBuilder().setDimValue(d.size())
          : TensorShapeProto.Dimension.newBuilder().setDimParam(d.symbol()));
    }
    return ValueInfoProto.newBuilder().setName(name)
        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
            .setElemType(type.dtype().onnxCode()).setShape(shape)))
        .build();
  }

  /** A TensorProto holding {@code t} as raw little-endian data (see {@link TensorProtos#fromTensor}). */
  public static TensorProto tensor(String name, Tensor t) {
    return TensorProtos.fromTensor(name, t);
  }

  /**
   * Adds the NodeProto(s) for {@code n} to {@code g}: the node itself, or, when its op decomposes it for the target
   * opset ({@link org.twicing.dsl.ir.OpDef#decompose}), the replacement graph's nodes inlined under the node's
   * name. {@code names} gives the emitted name of each value ({@link Value#name()} at top level) and
   * {@code prefix} is prepended to node names (empty at top level); {@code read} holds the values something reads.
   */
  private static void node(Node n, EmitOptions options, GraphProto.Builder g,
      Function<Value, String> names, String prefix, Set<Value> read) {
    Graph sub = n.op().decompose(n, options.opset());
    if (sub == null && !options.keepFusedOps()) {
      sub = n.op().primitives(n, options.opset());
    }
    if (sub != null) {
      inline(n, sub, options, g, names, prefix);
      return;
    }
    NodeProto.Builder b = NodeProto.newBuilder().setName(prefix + n.name()).setOpType(n.op().onnxType())
        .setDomain(n.op().domain());
    List<Value> ins = new ArrayList<>(n.inputs());
    while (!ins.isEmpty() && ins.get(ins.size() - 1) == null) {
      ins.remove(ins.size() - 1);
    }
    for (Value v : ins) {
      b.addInput(v == null ? "" : names.apply(v));
    }
    // Optional outputs nothing reads are left out (trailing) or unnamed, so e.g. MaxPool's Indices cost nothing.
    int required = n.op().requiredOutputs(n.attributes());
    int keep = n.outputs().size();
    while (keep > required && !read.contains(n.output(keep - 1))) {
      keep--;
    }
    for (int i = 0; i < keep; i++) {
      Value v = n.output(i);
      b.addOutput(i < required || read.contains(v) ? names.apply(v) : "");
    }
    Attributes attrs = n.attributes();
    for (Attr<long[]> key : n.op().attributesAsInputs(options.opset())) {
      // The target opset takes this attribute as an input (e.g. ReduceMean's axes from opset 18).
      long[] value = attrs.get(key);
      if (value != null) {
        String name = prefix + n.name() + "/" + key.name();
        g.addInitializer(tensor(name, Tensor.longs(value)));
        b.addInput(name);
        attrs = attrs.with(key, null);
      }
    }
    for (Attributes.Entry<?> e : attrs.entries().values()) {
      b.addAttribute(attribute(e.key(), e.value()));
    }
    g.addNode(b.build());
  }

  /**
   * Inlines the decomposition {@code sub} of node {@code n}: its inputs are the node's present inputs, its outputs
   * the node's outputs, and its other values and nodes are named {@code <node>/lowered/<name>}, apart from the
   * builder's own names.
   */
  private static void inline(Node n, Graph sub, EmitOptions options, GraphProto.Builder g,
      Function<Value, String> names, String outerPrefix) {
    Map<Value, String> rename = new HashMap<>();
    int k = 0;
    for (Value v : n.inputs()) {
      if (v != null) {
        rename.put(sub.inputs().get(k++), names.apply(v));
      }
    }
    int o = 0;
    for (Value out : sub.outputs().values()) {
      rename.put(out, names.apply(n.output(o++)));
    }
    String prefix = outerPrefix + n.name() + "/lowered/";
    Function<Value, String> inner = v -> rename.computeIfAbsent(v, x -> prefix + x.name());
    Set<Value> read = readValues(sub);
    for (Node m : sub.nodes()) {
      node(m, options, g, inner, prefix, read);
    }
  }

  /** The values some node of {@code graph} reads or that are graph outputs. */
  private static Set<Value> readValues(Graph graph) {
    Set<Value> read = new HashSet<>(graph.outputs().values());
    for (Node n : graph.nodes()) {
      for (Value v : n.inputs()) {
        if (v != null) {
          read.add(v);
        }
      }
    }
    return read;
  }

  private static AttributeProto attribute(Attr<?> key, Object value) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(key.name());
    switch (key.kind()) {
      case INT -> a.setType(AttributeProto.AttributeType.INT).setI((Long) value);
      case INTS -> {
        a.setType(AttributeProto.AttributeType.INTS);
        for (long v : (long[]) value) {
          a.addInts(v);
        }
      }
      case FLOAT -> a.setType(AttributeProto.AttributeType.FLOAT).setF(((Double) value).floatValue());
      case FLOATS -> {
        a.setType(AttributeProto.AttributeType.FLOATS);
        for (double v : (double[]) value) {
          a.addFloats((float) v);
        }
      }
      case STRING -> a.setType(AttributeProto.AttributeType.STRING)
          .setS(ByteString.copyFrom(((String) value).getBytes(StandardCharsets.UTF_8)));
      case TENSOR -> a.setType(AttributeProto.AttributeType.TENSOR).setT(tensor(null, (Tensor) value));
      default -> throw new IllegalStateException("unhandled attribute kind " + key.kind());
    }
    return a.build();
  }

  /** A metadata entry. */
  public static StringStringEntryProto entry(String key, String value) {
    return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
  }
}
