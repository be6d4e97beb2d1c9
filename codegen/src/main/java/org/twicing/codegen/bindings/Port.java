package org.twicing.codegen.bindings;

import static org.twicing.codegen.bindings.JavadocText.code;
import static org.twicing.codegen.bindings.RuntimeApi.TENSORS;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.NameAllocator;
import com.palantir.javapoet.TypeName;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.List;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorSpec;

/**
 * One input or output of a generated class and the Java names chosen for it.
 *
 * @param spec the declared name, dtype and shape
 * @param member the parameter or record component name
 * @param constant the name of the {@code TensorSpec} constant
 * @param shapeParam the name of the shape parameter of the buffer overload (inputs only, else null)
 * @param tensorVar the name of the local holding the input as a tensor (inputs only, else null)
 */
record Port(TensorSpec spec, String member, String constant, String shapeParam, String tensorVar) {
  /**
   * Ports for inputs: the inputs' own names are chosen first, so that an input named {@code xShape} keeps its
   * name and the shape parameter of an input {@code x} gives way.
   */
  static List<Port> inputs(List<TensorSpec> specs, NameAllocator members, NameAllocator constants) {
    List<String> names = new ArrayList<>();
    for (TensorSpec s : specs) {
      names.add(members.newName(JavaNames.memberName(s.name(), "input")));
    }
    List<Port> out = new ArrayList<>();
    for (int i = 0; i < specs.size(); i++) {
      String member = names.get(i);
      out.add(new Port(specs.get(i), member, constants.newName(JavaNames.constantName(member)),
          members.newName(member + "Shape"), members.newName(member + "Tensor")));
    }
    return out;
  }

  /** The port of an output: a record component and a constant, both named after the output. */
  static Port output(TensorSpec spec, NameAllocator components, NameAllocator constants) {
    String member = components.newName(JavaNames.memberName(spec.name(), "output"));
    return new Port(spec, member, constants.newName(JavaNames.constantName(member)), null, null);
  }

  /** The Java element type of the dtype. */
  TypeName element() {
    return switch (spec.dtype()) {
      case FLOAT32, FLOAT16, BFLOAT16 -> TypeName.FLOAT;
      case FLOAT64 -> TypeName.DOUBLE;
      case INT64 -> TypeName.LONG;
      case INT32 -> TypeName.INT;
      case BOOL -> TypeName.BOOLEAN;
    };
  }

  /** The (multi-dimensional) Java array type. */
  TypeName arrayType() {
    TypeName t = element();
    for (int i = 0; i < spec.rank(); i++) {
      t = ArrayTypeName.of(t);
    }
    return t;
  }

  /** The type to cast {@code OnnxTensor.getValue()} to: the array type, or the boxed element for scalars. */
  TypeName castType() {
    return spec.rank() == 0 ? element().box() : arrayType();
  }

  /** The NIO buffer type of the buffer overload. */
  TypeName bufferType() {
    Class<? extends Buffer> c = switch (spec.dtype()) {
      case FLOAT32 -> FloatBuffer.class;
      case FLOAT64 -> DoubleBuffer.class;
      case INT64 -> LongBuffer.class;
      case INT32 -> IntBuffer.class;
      default -> ByteBuffer.class;
    };
    return ClassName.get(c);
  }

  /** The expression wrapping the array parameter as an ONNX Runtime tensor. */
  CodeBlock fromArray() {
    if (spec.rank() > 0) {
      return CodeBlock.of("$T.fromArray($N.name(), $N)", TENSORS, constant, member);
    }
    return switch (spec.dtype()) {
      case FLOAT32 -> CodeBlock.of("$T.floatScalar($N)", TENSORS, member);
      case INT64 -> CodeBlock.of("$T.longScalar($N)", TENSORS, member);
      case FLOAT64 -> CodeBlock.of("$T.doubles(new double[] {$N})", TENSORS, member);
      case INT32 -> CodeBlock.of("$T.ints(new int[] {$N})", TENSORS, member);
      default -> CodeBlock.of("$T.booleans(new boolean[] {$N})", TENSORS, member);
    };
  }

  /** The expression wrapping the buffer parameter and its shape as an ONNX Runtime tensor. */
  CodeBlock fromBuffer() {
    if (spec.dtype() == DType.BOOL) {
      return CodeBlock.of("$T.fromBuffer($N, $T.BOOL, $N)", TENSORS, member, DType.class, shapeParam);
    }
    return CodeBlock.of("$T.fromBuffer($N, $N)", TENSORS, member, shapeParam);
  }

  /** E.g. {@code float32 [batch, 10]}, for Javadoc. */
  String describe() {
    return spec.dtype() + " " + code(spec.shape());
  }

  /** The spec of a graph input or output, failing for shapes and element types bindings cannot type. */
  static TensorSpec spec(ValueInfoProto v, String role) {
    if (!v.getType().hasTensorType()) {
      throw new IllegalArgumentException(role + " '" + v.getName() + "' is not a tensor; bindings handle tensors only");
    }
    int code = v.getType().getTensorType().getElemType();
    DType dtype;
    try {
      dtype = DType.fromOnnxCode(code);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(role + " '" + v.getName() + "' has ONNX element type "
          + TensorProto.DataType.forNumber(code) + ", which bindings do not support (supported: float32, float64, "
          + "int64, int32, bool, and float16/bfloat16 outputs)", e);
    }
    boolean isInput = !role.equals("output");
    if (isInput && (dtype == DType.FLOAT16 || dtype == DType.BFLOAT16)) {
      throw new IllegalArgumentException(role + " '" + v.getName() + "' is " + dtype + ", which has no Java array "
          + "type; bindings take float32, float64, int64, int32 and bool inputs");
    }
    if (!v.getType().getTensorType().hasShape()) {
      throw new IllegalArgumentException(role + " '" + v.getName() + "' declares no shape, so its rank (and Java "
          + "array type) is unknown; re-export the model with shapes on its inputs and outputs");
    }
    List<Object> dims = new ArrayList<>();
    for (TensorShapeProto.Dimension dim : v.getType().getTensorType().getShape().getDimList()) {
      if (dim.hasDimValue()) {
        dims.add(dim.getDimValue());
      } else if (dim.hasDimParam() && !dim.getDimParam().isEmpty()) {
        dims.add(dim.getDimParam());
      } else {
        dims.add(TensorSpec.ANONYMOUS);
      }
    }
    return TensorSpec.of(v.getName(), dtype, dims.toArray());
  }
}
