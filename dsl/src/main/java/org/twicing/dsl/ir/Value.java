package org.twicing.dsl.ir;

import java.util.List;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * A named, typed value in a graph under construction: a graph input, a parameter, or an output of a node. Values
 * know the builder that made them, so ops can be called as plain functions of their operands.
 */
public final class Value {
  /** Where a value comes from. */
  public enum Kind { INPUT, PARAMETER, NODE }

  private final GraphBuilder graph;
  private final String name;
  private final TensorType type;
  private final Kind kind;
  // Not final: a graph pass that rewrites the producing node re-points it (Node.rewritten), so producer() names
  // the node of the newest graph; Graph.producer(value) answers for any one graph.
  private Node producer;
  private final int outputIndex;
  private final Tensor constant;
  private final List<Dim> shapeValue;

  Value(GraphBuilder graph, String name, TensorType type, Kind kind, Node producer, int outputIndex,
      Tensor constant, List<Dim> shapeValue) {
    this.graph = graph;
    this.name = name;
    this.type = type;
    this.kind = kind;
    this.producer = producer;
    this.outputIndex = outputIndex;
    this.constant = constant;
    this.shapeValue = shapeValue == null ? null : List.copyOf(shapeValue);
  }

  /** The builder this value belongs to. */
  public GraphBuilder graph() {
    return graph;
  }

  /** The ONNX value name. */
  public String name() {
    return name;
  }

  /** The static type. */
  public TensorType type() {
    return type;
  }

  /** The element type. */
  public DType dtype() {
    return type.dtype();
  }

  /** The shape. */
  public Shape shape() {
    return type.shape();
  }

  /** The rank. */
  public int rank() {
    return type.rank();
  }

  /** Whether this is an input, a parameter or a node output. */
  public Kind kind() {
    return kind;
  }

  /**
   * The node that computes this value, or null for inputs and parameters: after graph passes, the node of the
   * newest graph (for an older graph, ask it: {@link Graph#producer(Value)}).
   */
  public Node producer() {
    return producer;
  }

  /** Re-points this value at the node that now computes it (a graph pass rewrote its producer). */
  void producedBy(Node node) {
    this.producer = node;
  }

  /** Which output of its producer this value is. */
  public int outputIndex() {
    return outputIndex;
  }

  /** The value when it is known at build time (constants), else null. */
  public Tensor constant() {
    return constant;
  }

  /**
   * For rank-1 int64 values that describe a shape (outputs of Shape, constants, their concatenations): the dims
   * they hold, possibly symbolic, so that Reshape and Expand by such a value keep a static type. Null otherwise.
   */
  public List<Dim> shapeValue() {
    return shapeValue;
  }

  @Override
  public String toString() {
    return "'" + name + "' " + type;
  }
}
