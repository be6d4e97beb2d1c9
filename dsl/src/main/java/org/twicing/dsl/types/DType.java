package org.twicing.dsl.types;

/** Element types a tensor can hold, with their ONNX {@code TensorProto.DataType} codes and byte sizes. */
public enum DType {
  FLOAT32(1, 4, "float32", true),
  FLOAT64(11, 8, "float64", true),
  FLOAT16(10, 2, "float16", true),
  BFLOAT16(16, 2, "bfloat16", true),
  INT64(7, 8, "int64", false),
  INT32(6, 4, "int32", false),
  BOOL(9, 1, "bool", false);

  private final int onnxCode;
  private final int byteSize;
  private final String displayName;
  private final boolean floating;

  DType(int onnxCode, int byteSize, String displayName, boolean floating) {
    this.onnxCode = onnxCode;
    this.byteSize = byteSize;
    this.displayName = displayName;
    this.floating = floating;
  }

  /** The ONNX {@code TensorProto.DataType} enum value of this type. */
  public int onnxCode() {
    return onnxCode;
  }

  /** Bytes one element occupies in raw little-endian storage. */
  public int byteSize() {
    return byteSize;
  }

  /** Whether this is a floating-point type (and so differentiable). */
  public boolean isFloating() {
    return floating;
  }

  /** Whether this is a signed integer type. */
  public boolean isInteger() {
    return this == INT64 || this == INT32;
  }

  /** Whether values of this type can take part in arithmetic (everything but bool). */
  public boolean isNumeric() {
    return this != BOOL;
  }

  /** Looks a type up by its ONNX code, failing with a message naming the code. */
  public static DType fromOnnxCode(int code) {
    for (DType t : values()) {
      if (t.onnxCode == code) {
        return t;
      }
    }
    throw new IllegalArgumentException("unsupported ONNX tensor element type code " + code
        + " (supported: float32, float64, float16, bfloat16, int64, int32, bool)");
  }

  /** Looks a type up by its lower-case name as printed ({@code float32}, {@code int64}, ...). */
  public static DType fromName(String name) {
    for (DType t : values()) {
      if (t.displayName.equals(name)) {
        return t;
      }
    }
    throw new IllegalArgumentException("unknown dtype '" + name + "'");
  }

  @Override
  public String toString() {
    return displayName;
  }
}
