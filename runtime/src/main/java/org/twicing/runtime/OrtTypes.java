package org.twicing.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.TensorType;

/** Translations between ONNX Runtime's type descriptions and twicing's {@link DType} / {@link TensorType}. */
final class OrtTypes {
  /**
   * Symbol given to a dynamic dimension ONNX Runtime reports without a name. It binds to nothing: each occurrence may
   * take any size, since the model promises no relation between unnamed dims.
   */
  static final String ANONYMOUS_DIM = "?";

  private OrtTypes() { }

  /** Our dtype for an ORT element type, or null when twicing has none. */
  static DType dtypeOrNull(TensorInfo.OnnxTensorType t) {
    return switch (t) {
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT -> DType.FLOAT32;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE -> DType.FLOAT64;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 -> DType.FLOAT16;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 -> DType.BFLOAT16;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 -> DType.INT64;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 -> DType.INT32;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL -> DType.BOOL;
      default -> null;
    };
  }

  /** Our dtype for an ORT tensor, failing with a message naming {@code what} when twicing has no such dtype. */
  static DType dtype(TensorInfo info, String what) {
    DType d = dtypeOrNull(info.onnxType);
    if (d == null) {
      throw new IllegalArgumentException(what + " has element type " + describe(info.onnxType)
          + ", which twicing does not support (supported: float32, float64, float16, bfloat16, int64, int32, bool)");
    }
    return d;
  }

  /** The ORT Java element type for one of our dtypes. */
  static OnnxJavaType javaType(DType d) {
    return switch (d) {
      case FLOAT32 -> OnnxJavaType.FLOAT;
      case FLOAT64 -> OnnxJavaType.DOUBLE;
      case FLOAT16 -> OnnxJavaType.FLOAT16;
      case BFLOAT16 -> OnnxJavaType.BFLOAT16;
      case INT64 -> OnnxJavaType.INT64;
      case INT32 -> OnnxJavaType.INT32;
      case BOOL -> OnnxJavaType.BOOL;
    };
  }

  /** A short lower-case name for an ORT element type ({@code uint8}, {@code string}, ...). */
  static String describe(TensorInfo.OnnxTensorType t) {
    DType d = dtypeOrNull(t);
    if (d != null) {
      return d.toString();
    }
    return t.name().replace("ONNX_TENSOR_ELEMENT_DATA_TYPE_", "").toLowerCase(Locale.ROOT);
  }

  /**
   * The declared type of a model input or output: dims ORT reports as -1 become symbols, named after the model's
   * dim_param when it has one and {@link #ANONYMOUS_DIM} otherwise.
   */
  static TensorType declaredType(NodeInfo node, String role) {
    String what = role + " '" + node.getName() + "'";
    ValueInfo vi = node.getInfo();
    if (!(vi instanceof TensorInfo info)) {
      throw new IllegalArgumentException(what + " is a " + vi.getClass().getSimpleName() + " (" + vi
          + "), but twicing sessions only handle tensor inputs and outputs");
    }
    DType dtype = dtype(info, what);
    long[] shape = info.getShape();
    String[] names = info.getDimensionNames();
    List<Dim> dims = new ArrayList<>(shape.length);
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] >= 0) {
        dims.add(Dim.of(shape[i]));
      } else {
        String name = names != null && i < names.length ? names[i] : null;
        dims.add(name == null || name.isEmpty() ? Dim.sym(ANONYMOUS_DIM) : Dim.parse(name));
      }
    }
    return new TensorType(dtype, Shape.of(dims));
  }
}
