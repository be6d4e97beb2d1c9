package org.twicing.codegen.bindings;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import java.util.Map;

/**
 * The types of the twicing runtime and ONNX Runtime that generated bindings call, named without depending on them
 * (the runtime module depends on this one).
 */
final class RuntimeApi {
  private static final String RUNTIME = "org.twicing.runtime";
  private static final String RUNTIME_BINDINGS = RUNTIME + ".bindings";
  static final ClassName MODEL_SESSION = ClassName.get(RUNTIME, "ModelSession");
  static final ClassName SESSION_OPTIONS = ClassName.get(RUNTIME, "SessionOptionsSpec");
  static final ClassName TENSORS = ClassName.get(RUNTIME, "Tensors");
  static final ClassName RESULTS = ClassName.get(RUNTIME, "Results");
  static final ClassName ONNX_RUNTIME_EXCEPTION = ClassName.get(RUNTIME, "OnnxRuntimeException");
  static final ClassName TRAINING_STATE = ClassName.get(RUNTIME_BINDINGS, "TrainingState");
  static final ClassName SIGNATURE = ClassName.get(RUNTIME_BINDINGS, "Signature");
  static final ClassName INPUT_CHECK = ClassName.get(RUNTIME_BINDINGS, "InputCheck");
  static final ClassName ONNX_TENSOR = ClassName.get("ai.onnxruntime", "OnnxTensor");
  static final ClassName ORT_EXCEPTION = ClassName.get("ai.onnxruntime", "OrtException");
  /** {@code Map<String, OnnxTensor>}: named inputs of a session run. */
  static final TypeName FEEDS = ParameterizedTypeName.get(ClassName.get(Map.class), ClassName.get(String.class),
      ONNX_TENSOR);

  private RuntimeApi() { }
}
