package org.twicing.dsl.types;

/** The static type of a value: element type and shape. */
public record TensorType(DType dtype, Shape shape) {
  /** Convenience constructor from a dtype and shape entries (see {@link Shape#of(Object...)}). */
  public static TensorType of(DType dtype, Object... dims) {
    return new TensorType(dtype, Shape.of(dims));
  }

  /** Rank of the shape. */
  public int rank() {
    return shape.rank();
  }

  /** A type with the same dtype and another shape. */
  public TensorType withShape(Shape s) {
    return new TensorType(dtype, s);
  }

  /** A type with the same shape and another dtype. */
  public TensorType withDType(DType d) {
    return new TensorType(d, shape);
  }

  @Override
  public String toString() {
    return dtype + shape.toString();
  }
}
