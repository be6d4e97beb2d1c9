package org.twicing.tests.support;

import static org.bytedeco.onnx.global.onnx.ParseProtoFromBytes;

import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.twicing.codegen.onnx.OnnxProtos.AttributeProto;
import org.twicing.codegen.onnx.OnnxProtos.FunctionProto;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.TrainingInfoProto;

/**
 * Validates serialized models with the official ONNX checker (full check: strict shape and type inference, via
 * the bytedeco build of onnx) and asserts that the model uses only the default operator domain.
 */
public final class OnnxChecker {
  private OnnxChecker() { }

  /**
   * Fails with an {@link AssertionError} carrying the checker's message unless {@code modelBytes} parses, passes
   * {@code onnx::checker::check_model} with {@code full_check} (strict shape inference), and every node (in the
   * main graph, nested graphs, training-info graphs and local functions) and opset import is in the default domain.
   */
  public static void check(byte[] modelBytes) {
    runOfficialChecker(modelBytes);
    assertDefaultDomainOnly(modelBytes);
  }

  /** Runs only the official full check (strict shape inference) on {@code modelBytes}. */
  public static void runOfficialChecker(byte[] modelBytes) {
    try (org.bytedeco.onnx.ModelProto m = new org.bytedeco.onnx.ModelProto();
        BytePointer p = new BytePointer(modelBytes)) {
      if (!ParseProtoFromBytes(m, p, modelBytes.length)) {
        throw new AssertionError("ONNX checker: the " + modelBytes.length + " bytes do not parse as a ModelProto");
      }
      try {
        org.bytedeco.onnx.global.onnx.check_model(m, true, false, false);
      } catch (RuntimeException e) {
        throw new AssertionError("ONNX checker (full check, strict shape inference) rejected the model: "
            + e.getMessage(), e);
      }
    }
  }

  /** Asserts every node and opset import of {@code modelBytes} is in the default domain ("" or "ai.onnx"). */
  public static void assertDefaultDomainOnly(byte[] modelBytes) {
    ModelProto model;
    try {
      model = ModelProto.parseFrom(modelBytes);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("model bytes do not parse as a ModelProto: " + e.getMessage(), e);
    }
    List<String> bad = new ArrayList<>();
    for (OperatorSetIdProto o : model.getOpsetImportList()) {
      if (!isDefault(o.getDomain())) {
        bad.add("opset_import '" + o.getDomain() + "'");
      }
    }
    collect(model.getGraph(), "graph", bad);
    for (TrainingInfoProto t : model.getTrainingInfoList()) {
      collect(t.getInitialization(), "training_info.initialization", bad);
      collect(t.getAlgorithm(), "training_info.algorithm", bad);
    }
    for (FunctionProto f : model.getFunctionsList()) {
      bad.add("local function '" + f.getDomain() + "::" + f.getName() + "'");
      for (NodeProto n : f.getNodeList()) {
        collect(n, "function " + f.getName(), bad);
      }
    }
    if (!bad.isEmpty()) {
      throw new AssertionError("model uses non-default domains: " + bad);
    }
  }

  private static void collect(GraphProto g, String where, List<String> bad) {
    for (NodeProto n : g.getNodeList()) {
      collect(n, where, bad);
    }
  }

  private static void collect(NodeProto n, String where, List<String> bad) {
    if (!isDefault(n.getDomain())) {
      bad.add(where + ": node '" + n.getName() + "' " + n.getDomain() + "::" + n.getOpType());
    }
    for (AttributeProto a : n.getAttributeList()) {
      if (a.hasG()) {
        collect(a.getG(), where + "/" + n.getName() + "." + a.getName(), bad);
      }
      for (GraphProto sub : a.getGraphsList()) {
        collect(sub, where + "/" + n.getName() + "." + a.getName(), bad);
      }
    }
  }

  private static boolean isDefault(String domain) {
    return domain.isEmpty() || domain.equals("ai.onnx");
  }
}
