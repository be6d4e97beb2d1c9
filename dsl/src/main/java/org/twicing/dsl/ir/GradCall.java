package org.twicing.dsl.ir;

import java.util.List;

/** What a gradient rule sees: the forward node and the upstream gradients of its outputs. */
public final class GradCall {
  private final Node node;
  private final List<Value> outputGrads;
  private final boolean[] needed;

  /** Describes differentiating {@code node}; {@code outputGrads} has one entry per output (null: zero). */
  public GradCall(Node node, List<Value> outputGrads, boolean[] needed) {
    this.node = node;
    this.outputGrads = outputGrads;
    this.needed = needed;
  }

  /** The forward node. */
  public Node node() {
    return node;
  }

  /** The builder new nodes go into. */
  public GraphBuilder graph() {
    return node.outputs().get(0).graph();
  }

  /** Forward input {@code i}. */
  public Value input(int i) {
    return node.input(i);
  }

  /** Forward output {@code i}. */
  public Value output(int i) {
    return node.output(i);
  }

  /** Upstream gradient of output {@code i}, or null when that output does not reach the loss. */
  public Value grad(int i) {
    return i < outputGrads.size() ? outputGrads.get(i) : null;
  }

  /** Upstream gradient of the first output (the common case of single-output ops). */
  public Value grad0() {
    return grad(0);
  }

  /** Whether the gradient of input {@code i} is wanted (rules may skip building unwanted ones). */
  public boolean needs(int i) {
    return i < needed.length && needed[i];
  }

  /** An attribute of the forward node. */
  public <T> T attr(Attr<T> key, T dflt) {
    return node.attributes().get(key, dflt);
  }
}
