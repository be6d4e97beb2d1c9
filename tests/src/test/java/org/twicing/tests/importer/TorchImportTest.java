package org.twicing.tests.importer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.importer.ImportedModel;
import org.twicing.codegen.importer.OnnxImporter;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;
import org.twicing.tests.support.Tolerance;

/**
 * Models exported by {@code torch.onnx.export} (opsets 13, 15 and 17: decomposed and fused LayerNorm, GELU via
 * Erf, Gemm, a causal attention block with run-time reshapes, a CNN with Conv, BatchNormalization, MaxPool and
 * GlobalAveragePool) are imported, evaluated in float64 by our reference
 * evaluator and re-emitted for ONNX Runtime; both must give PyTorch's float64 logits.
 */
class TorchImportTest {
  static Stream<Arguments> exports() {
    Stream.Builder<Arguments> b = Stream.builder();
    for (String model : new String[] {"mlp", "lm", "cnn", "patch"}) {
      for (int opset : TorchExports.OPSETS) {
        b.add(Arguments.of(model, opset));
      }
    }
    return b.build();
  }

  /** The model input as the exported graph declares it (float32 pixels, int64 tokens). */
  static Tensor input(Map<String, Tensor> ref) {
    Tensor x = ref.get("x");
    return x.dtype() == DType.INT64 ? x : x.cast(DType.FLOAT32);
  }

  @ParameterizedTest(name = "{0} opset {1}")
  @MethodSource("exports")
  void importedModelComputesTorchLogitsInTheEvaluatorAndInOnnxRuntime(String model, int opset) throws Exception {
    ImportedModel im = OnnxImporter.read(TorchExports.onnx(model, opset));
    Map<String, Tensor> ref = TorchExports.reference(model, opset);
    assertEquals(opset, im.opset());
    assertEquals("pytorch", im.producerName());
    Graph g = im.graph();
    String input = g.inputs().get(0).name();
    Map<String, Tensor> feeds = Map.of(input, input(ref));
    Tensor logits = Evaluator.runFloat64(g, feeds).get("logits");
    // Float32 constants of the export (eps, 1/sqrt(d)) are the only difference from torch's float64 run.
    Tolerance.assertRelErr(logits, ref.get("logits"), 1e-6, model + " opset " + opset + " float64 logits");
    byte[] emitted = OnnxEmitter.emit(g, EmitOptions.defaults()).toByteArray();
    OnnxChecker.check(emitted);
    Tensor ort = OrtRunner.run(emitted, feeds).get("logits");
    Tolerance.assertRelErr(ort, ref.get("logits"), 1e-5, model + " opset " + opset + " ONNX Runtime logits");
  }
}
