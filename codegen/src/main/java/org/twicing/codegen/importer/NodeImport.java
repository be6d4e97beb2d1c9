package org.twicing.codegen.importer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.codegen.onnx.OnnxProtos.AttributeProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * One ONNX node being imported: its operands looked up among the values imported so far, its attributes as
 * typed values, and the means to build our nodes under the ONNX node's name and output names.
 */
final class NodeImport {
  private final NodeProto proto;
  private final String nodeName;
  private final long opset;
  private final GraphBuilder graph;
  private final Map<String, Value> values;
  private final Set<String> consumed;
  private final Path externalDataDir;
  private final ShapeContents shapes;

  NodeImport(NodeProto proto, String nodeName, long opset, GraphBuilder graph, Map<String, Value> values,
      Set<String> consumed, Path externalDataDir, ShapeContents shapes) {
    this.shapes = shapes;
    this.proto = proto;
    this.nodeName = nodeName;
    this.opset = opset;
    this.graph = graph;
    this.values = values;
    this.consumed = consumed;
    this.externalDataDir = externalDataDir;
  }

  /** The ONNX op type. */
  String opType() {
    return proto.getOpType();
  }

  /** The model's default-domain opset. */
  long opset() {
    return opset;
  }

  /** Number of inputs listed (trailing omitted ones included). */
  int inputCount() {
    return proto.getInputCount();
  }

  /** Input {@code i}, or null when absent or omitted (empty name). */
  Value input(int i) {
    if (i >= proto.getInputCount() || proto.getInput(i).isEmpty()) {
      return null;
    }
    Value v = values.get(proto.getInput(i));
    if (v == null) {
      throw fail("input %d '%s' is not produced by any earlier node, graph input or initializer", i,
          proto.getInput(i));
    }
    return v;
  }

  /** All inputs in order, null for omitted ones. */
  List<Value> inputs() {
    List<Value> in = new ArrayList<>();
    for (int i = 0; i < proto.getInputCount(); i++) {
      in.add(input(i));
    }
    while (!in.isEmpty() && in.get(in.size() - 1) == null) {
      in.remove(in.size() - 1);
    }
    return in;
  }

  /** The build-time value of input {@code i} (a constant or initializer-turned-constant), or null if omitted. */
  Tensor constant(int i) {
    Value v = input(i);
    if (v == null) {
      return null;
    }
    if (v.constant() == null) {
      throw fail("input %d '%s' must be a constant (an initializer or Constant node), it is computed at run time",
          i, v.name());
    }
    return v.constant();
  }

  /** Whether output {@code i} is named and read by a later node or the graph outputs. */
  boolean outputUsed(int i) {
    return i < proto.getOutputCount() && !proto.getOutput(i).isEmpty() && consumed.contains(proto.getOutput(i));
  }

  /** Number of outputs listed. */
  int outputCount() {
    return proto.getOutputCount();
  }

  /** Whether the node carries attribute {@code name}. */
  boolean has(String name) {
    return proto.getAttributeList().stream().anyMatch(a -> a.getName().equals(name));
  }

  /** An integer attribute, or {@code dflt}. */
  long intAttr(String name, long dflt) {
    AttributeProto a = find(name);
    return a == null ? dflt : a.getI();
  }

  /** An ints attribute, or null. */
  long[] intsAttr(String name) {
    AttributeProto a = find(name);
    return a == null ? null : a.getIntsList().stream().mapToLong(Long::longValue).toArray();
  }

  /** A string attribute, or {@code dflt}. */
  String stringAttr(String name, String dflt) {
    AttributeProto a = find(name);
    return a == null ? dflt : a.getS().toString(StandardCharsets.UTF_8);
  }

  /** The attribute called {@code name}, or null. */
  AttributeProto find(String name) {
    for (AttributeProto a : proto.getAttributeList()) {
      if (a.getName().equals(name)) {
        return a;
      }
    }
    return null;
  }

  /** Every attribute but {@code dropped}, as typed attributes (ONNX attribute kinds map one to one). */
  Attributes attributes(String... dropped) {
    List<String> skip = Arrays.asList(dropped);
    Attributes out = Attributes.none();
    for (AttributeProto a : proto.getAttributeList()) {
      if (skip.contains(a.getName())) {
        continue;
      }
      out = with(out, a);
    }
    return out;
  }

  private Attributes with(Attributes out, AttributeProto a) {
    String n = a.getName();
    if (!a.getRefAttrName().isEmpty()) {
      throw fail("attribute '%s' refers to a function attribute; only plain graphs are supported", n);
    }
    return switch (a.getType()) {
      case INT -> out.with(Attr.integer(n), a.getI());
      case INTS -> out.with(Attr.ints(n), a.getIntsList().stream().mapToLong(Long::longValue).toArray());
      case FLOAT -> out.with(Attr.real(n), (double) a.getF());
      case FLOATS -> out.with(Attr.reals(n), a.getFloatsList().stream().mapToDouble(Float::doubleValue).toArray());
      case STRING -> out.with(Attr.string(n), a.getS().toString(StandardCharsets.UTF_8));
      case TENSOR -> out.with(Attr.tensor(n), tensor(a));
      default -> throw fail("attribute '%s' has kind %s, which no supported op takes", n, a.getType());
    };
  }

  /** The tensor of a TENSOR attribute. */
  Tensor tensor(AttributeProto a) {
    try {
      return TensorProtos.toTensor(a.getT(), externalDataDir);
    } catch (IllegalArgumentException e) {
      throw fail("attribute '%s': %s", a.getName(), e.getMessage());
    }
  }

  /**
   * Builds {@code op} on {@code inputs} as this node: our node and its outputs take the ONNX names. Integer
   * arithmetic on values known at build time (exporters compute head sizes as {@code Div(Gather(Shape(x)), h)})
   * is folded into constants here, so the shapes it describes stay static for the ops and gradients downstream.
   */
  List<Value> emit(OpDef op, List<Value> given, Attributes attributes) {
    return emit(op, given, attributes, proto.getOutputList());
  }

  private List<Value> emit(OpDef op, List<Value> given, Attributes attributes, List<String> names) {
    List<Value> inputs = staticShapes(op, given);
    List<Tensor> known = knownIntegers(op, inputs);
    if (known != null && smallOutputs(op, inputs, attributes)) {
      List<Tensor> folded = op.evaluate(known, attributes, Rounding.TO_DTYPE);
      List<Value> out = new ArrayList<>();
      for (int i = 0; i < folded.size(); i++) {
        String name = i < names.size() ? names.get(i) : "";
        out.add(graph.applyNamed(Ops.CONSTANT, folded.size() == 1 ? nodeName : nodeName + ":" + i,
            List.of(), Attributes.of(Ops.VALUE, folded.get(i)), Collections.singletonList(name)).get(0));
      }
      return out;
    }
    List<ShapeContents.Entry> contents = shapes.evaluate(op.onnxType(), inputs, attributes);
    List<Value> out = graph.applyNamed(op, nodeName, inputs, attributes, names);
    Value first = out.get(0);
    if (contents != null && first.rank() <= 1 && first.shape().isFixed()
        && first.shape().numel() == contents.size()) {
      shapes.record(first, contents);
    }
    return out;
  }

  /** The operand of each op that must be a shape known when building (Reshape's and Expand's target). */
  private static final Map<OpDef, Integer> SHAPE_OPERAND = Map.of(Ops.RESHAPE, 1, Ops.EXPAND, 1,
      Ops.CONSTANT_OF_SHAPE, 0);

  /**
   * Replaces a shape operand that our ops cannot read when building (run-time arithmetic on the batch size) by an
   * equal one they can: constants and Shape slices, whenever {@link ShapeContents} knows or names every entry.
   */
  private List<Value> staticShapes(OpDef op, List<Value> inputs) {
    Integer k = SHAPE_OPERAND.get(op);
    if (k == null || k >= inputs.size() || inputs.get(k) == null) {
      return inputs;
    }
    Value v = inputs.get(k);
    if (v.constant() != null || v.shapeValue() != null && v.shapeValue().stream().allMatch(d -> d != null)) {
      return inputs;
    }
    List<ShapeContents.Entry> contents = shapes.of(v);
    if (contents != null && op == Ops.RESHAPE) {
      contents = ShapeContents.resolveReshape(inputs.get(0).shape(), contents);
    }
    Value rebuilt = contents == null ? null : shapes.materialize(graph, contents, nodeName + "/shape");
    if (rebuilt == null) {
      return inputs;
    }
    List<Value> out = new ArrayList<>(inputs);
    out.set(k, rebuilt);
    return out;
  }

  /** Whether every output of the call has a static shape of at most {@link #FOLD_LIMIT} elements. */
  private boolean smallOutputs(OpDef op, List<Value> inputs, Attributes attributes) {
    for (TensorType t : op.infer(new OpCall(op, nodeName, inputs, attributes))) {
      if (!t.shape().isFixed() || t.shape().numel() > FOLD_LIMIT) {
        return false;
      }
    }
    return true;
  }

  /** Folded constants above this many elements are not made, to keep models small. */
  private static final int FOLD_LIMIT = 1 << 16;

  /** The values of {@code inputs} when every one is an integer or bool known at build time, else null. */
  private List<Tensor> knownIntegers(OpDef op, List<Value> inputs) {
    if (op.isRandom() || inputs.isEmpty() || op == Ops.CONSTANT) {
      return null;
    }
    List<Tensor> out = new ArrayList<>();
    for (Value v : inputs) {
      if (v == null) {
        out.add(null);
        continue;
      }
      if (v.dtype().isFloating()) {
        return null;
      }
      if (v.constant() != null) {
        out.add(v.constant());
      } else if (v.shapeValue() != null && v.dtype() == DType.INT64 && v.shape().isFixed()
          && v.shapeValue().stream().allMatch(d -> d != null && d.isFixed())) {
        double[] d = v.shapeValue().stream().mapToDouble(Dim::size).toArray();
        out.add(new Tensor(DType.INT64, v.shape().sizes(), d));
      } else {
        List<ShapeContents.Entry> c = shapes.of(v);
        if (c == null || !v.shape().isFixed() || !c.stream().allMatch(ShapeContents.Entry::known)) {
          return null;
        }
        out.add(new Tensor(v.dtype(), v.shape().sizes(), c.stream().mapToDouble(ShapeContents.Entry::value)
            .toArray()));
      }
    }
    return out;
  }

  /** Builds {@code op} as this node, producing only its first output (the ONNX node's others must be unused). */
  List<Value> emitFirst(OpDef op, List<Value> inputs, Attributes attributes) {
    requireUnusedBeyond(1);
    return emit(op, inputs, attributes, proto.getOutputList().subList(0, 1));
  }

  /** Passes {@code v} on under the node's first output name (an Identity node). */
  List<Value> alias(Value v) {
    return emitFirst(Ops.IDENTITY, List.of(v), Attributes.none());
  }

  /** Fails when an output at position {@code n} or later is read: our form of the op does not produce it. */
  void requireUnusedBeyond(int n) {
    for (int i = n; i < proto.getOutputCount(); i++) {
      if (outputUsed(i)) {
        throw fail("output %d '%s' is read by the graph, but only the first %d output(s) are supported", i,
            proto.getOutput(i), n);
      }
    }
  }

  /** An auxiliary constant (axes, sizes) named after this node. */
  Value constant(String role, Tensor value) {
    return graph.applyNamed(Ops.CONSTANT, nodeName + "/" + role, List.of(),
        Attributes.of(Ops.VALUE, value), List.of()).get(0);
  }

  /** An error naming the node and its op type. */
  IllegalArgumentException fail(String format, Object... args) {
    return new IllegalArgumentException(proto.getOpType() + " node '" + nodeName + "': "
        + String.format(format, args));
  }
}
