package org.twicing.dsl.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** One application of an op: its inputs (null marks an omitted optional input), attributes and outputs. */
public final class Node {
  private final OpDef op;
  private final String name;
  private final List<Value> inputs;
  private final Attributes attributes;
  private final List<Value> outputs = new ArrayList<>();
  private final String scope;

  Node(OpDef op, String name, String scope, List<Value> inputs, Attributes attributes) {
    this.op = op;
    this.name = name;
    this.scope = scope;
    this.inputs = Collections.unmodifiableList(new ArrayList<>(inputs));
    this.attributes = attributes;
  }

  /**
   * A node for graph passes: applies {@code op} to {@code inputs} and produces the given existing output values
   * (so consumers and graph outputs keep referring to them).
   */
  public static Node rewritten(OpDef op, String name, String scope, List<Value> inputs, Attributes attributes,
      List<Value> outputs) {
    Node n = new Node(op, name, scope, inputs, attributes);
    for (Value v : outputs) {
      n.addOutput(v);
      v.producedBy(n);
    }
    return n;
  }

  void addOutput(Value v) {
    outputs.add(v);
  }

  /** The op this node applies. */
  public OpDef op() {
    return op;
  }

  /** The unique node name, e.g. {@code blocks.3.attn/MatMul_1}. */
  public String name() {
    return name;
  }

  /** The module scope the node was created in ({@code blocks.3.attn}), empty at top level. */
  public String scope() {
    return scope;
  }

  /** Inputs in ONNX order. */
  public List<Value> inputs() {
    return inputs;
  }

  /** Input {@code i}, or null when omitted. */
  public Value input(int i) {
    return i < inputs.size() ? inputs.get(i) : null;
  }

  /** Attributes. */
  public Attributes attributes() {
    return attributes;
  }

  /** Outputs in ONNX order. */
  public List<Value> outputs() {
    return Collections.unmodifiableList(outputs);
  }

  /** Output {@code i}. */
  public Value output(int i) {
    return outputs.get(i);
  }

  @Override
  public String toString() {
    return name + " = " + op.onnxType() + "(" + inputs.stream().map(v -> v == null ? "" : v.name()).toList() + ")";
  }
}
