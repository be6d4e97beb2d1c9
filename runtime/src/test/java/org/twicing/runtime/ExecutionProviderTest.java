package org.twicing.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import ai.onnxruntime.OrtSession;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/** Provider names, option specs, and what asking for a GPU provider does on the CPU build. */
class ExecutionProviderTest {
  @Test
  void parsesProviderNamesAndListsValidOnesOtherwise() {
    assertEquals(ExecutionProvider.CPU, ExecutionProvider.fromName("cpu"));
    assertEquals(ExecutionProvider.CUDA, ExecutionProvider.fromName("CUDA"));
    assertEquals(ExecutionProvider.TENSORRT, ExecutionProvider.fromName(" tensorrt "));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ExecutionProvider.fromName("gpu"));
    assertTrue(e.getMessage().contains("'gpu'") && e.getMessage().contains("cpu, cuda, tensorrt"), e.getMessage());
    assertTrue(ExecutionProvider.CPU.isInThisBuild());
  }

  @Test
  void specBuilderDefaultsAndValidation() {
    SessionOptionsSpec d = SessionOptionsSpec.defaults();
    assertEquals(ExecutionProvider.CPU, d.provider());
    assertFalse(d.fallback());
    assertEquals(OrtSession.SessionOptions.OptLevel.ALL_OPT, d.optimizationLevel());
    SessionOptionsSpec cuda = SessionOptionsSpec.builder().provider("cuda").deviceId(1)
        .providerOption("cudnn_conv_algo_search", "HEURISTIC").intraOpThreads(2).build();
    assertEquals(Map.of("device_id", "1", "cudnn_conv_algo_search", "HEURISTIC"), cuda.providerOptions());
    assertEquals(cuda, cuda.toBuilder().build());
    assertFalse(cuda.equals(cuda.toBuilder().fallback(true).build()));

    IllegalArgumentException threads = assertThrows(IllegalArgumentException.class,
        () -> SessionOptionsSpec.builder().intraOpThreads(-1));
    assertTrue(threads.getMessage().contains("intraOpThreads") && threads.getMessage().contains("-1"));
    IllegalArgumentException cpuOptions = assertThrows(IllegalArgumentException.class,
        () -> SessionOptionsSpec.builder().deviceId(0).build());
    assertTrue(cpuOptions.getMessage().contains("device_id") && cpuOptions.getMessage().contains("cpu takes none"),
        cpuOptions.getMessage());
  }

  @ParameterizedTest
  @EnumSource(value = ExecutionProvider.class, names = {"CUDA", "TENSORRT"})
  void gpuProviderOnTheCpuBuildNamesTheArtifactToUse(ExecutionProvider p) {
    assumeFalse(p.isInThisBuild(), "this ONNX Runtime build has " + p + "; the CPU-build check does not apply");
    SessionOptionsSpec spec = SessionOptionsSpec.builder().provider(p).deviceId(0).build();
    ProviderUnavailableException e = assertThrows(ProviderUnavailableException.class,
        () -> ModelSession.open(TestGraphs.onnx(TestGraphs.mlp()), spec));
    assertEquals(p, e.requested());
    assertTrue(e.available().contains("cpu"), e.available());
    for (String part : new String[] {"execution provider " + p + " was requested", "offers only [", "cpu",
        "com.microsoft.onnxruntime:onnxruntime ", "depend on org.twicing:twicing-runtime-gpu", "<type>pom</type>",
        "instead of org.twicing:twicing-runtime", "-Pcuda", "onnxruntime_gpu", "CUDA 12 / cuDNN 9",
        "library path", "fallback=true"}) {
      assertTrue(e.getMessage().contains(part), "message lacks '" + part + "': " + e.getMessage());
    }
    if (p == ExecutionProvider.TENSORRT) {
      assertTrue(e.getMessage().contains("TensorRT 10"), e.getMessage());
    }
    assertThrows(ProviderUnavailableException.class, spec::toSessionOptions);
  }

  @ParameterizedTest
  @EnumSource(value = ExecutionProvider.class, names = {"CUDA", "TENSORRT"})
  void withFallbackTheGpuRequestRunsOnCpuAndWarns(ExecutionProvider p) {
    assumeFalse(p.isInThisBuild(), "this ONNX Runtime build has " + p + "; the CPU-build check does not apply");
    Graph mlp = TestGraphs.mlp();
    Tensor x = Tensor.randn(DType.FLOAT32, new Random(4), 1.0, 3, 4);
    SessionOptionsSpec spec = SessionOptionsSpec.builder().provider(p).fallback(true).build();
    PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    try (PrintStream err = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
      System.setErr(err);
      try (ModelSession s = ModelSession.open(TestGraphs.onnx(mlp), spec)) {
        assertEquals(ExecutionProvider.CPU, s.provider());
        assertEquals(p, s.spec().provider());
        TestGraphs.assertClose(Evaluator.run(mlp, Map.of("x", x)).get("probs"), s.runHost(Map.of("x", x)).get("probs"),
            1e-5, "probs");
      }
    } finally {
      System.setErr(saved);
    }
    String warning = captured.toString(StandardCharsets.UTF_8);
    assertTrue(warning.contains("WARNING") && warning.contains("falling back to the cpu")
        && warning.contains("execution provider " + p + " was requested"), warning);
  }
}
