package org.twicing.dsl.types;

import java.util.Objects;

/**
 * The declared name, element type and shape of one input or output of a model, as generated bindings state them.
 * Dimensions are fixed sizes or symbols such as {@code batch}; the symbol {@value #ANONYMOUS} stands for a dynamic
 * dimension the model leaves unnamed, which may take any size and is tied to no other dimension.
 */
public record TensorSpec(String name, TensorType type) {
  /** The symbol of a dynamic dimension without a name (as ONNX Runtime and {@code twicing inspect} show it). */
  public static final String ANONYMOUS = "?";

  /** Validates the fields. */
  public TensorSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(type, "type");
  }

  /** A spec from a dtype and dims given as numbers (fixed sizes) and strings (symbols). */
  public static TensorSpec of(String name, DType dtype, Object... dims) {
    return new TensorSpec(name, TensorType.of(dtype, dims));
  }

  /** The element type. */
  public DType dtype() {
    return type.dtype();
  }

  /** The number of dimensions. */
  public int rank() {
    return type.rank();
  }

  /** Dimension {@code axis}. */
  public Dim dim(int axis) {
    return type.shape().dim(axis);
  }

  /** Whether dimension {@code axis} is a named symbol that must agree with the same symbol elsewhere. */
  public boolean isBound(int axis) {
    Dim d = dim(axis);
    return !d.isFixed() && !ANONYMOUS.equals(d.symbol());
  }

  /** The shape as written in messages and Javadoc, e.g. {@code [batch, 1, 28, 28]}. */
  public String shape() {
    return type.shape().toString();
  }

  /** E.g. {@code pixels float32[batch, 1, 28, 28]}. */
  @Override
  public String toString() {
    return name + " " + type;
  }
}
