package org.twicing.tests.parity;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.types.Tensor;

/**
 * Runs {@code src/test/python/onnx_export_reference.py} (Debian's {@code /usr/bin/python3} with torch 1.13): the
 * models PyTorch exports with {@code torch.onnx.export} and PyTorch's own forward, autograd and AdamW results on
 * them, for the tests of imported (foreign) models. A missing interpreter or a failing export fails the test.
 */
final class ForeignExports {
  /** The export script, relative to the tests module (Surefire's working directory). */
  static final Path SCRIPT = TorchReference.SCRIPT_DIR.resolve("onnx_export_reference.py");
  private static final long TIMEOUT_S = 240;

  private ForeignExports() { }

  /** Starts {@code onnx_export_reference.py JOB DIR}; {@link #await} it. */
  static Process start(String job, Path dir) throws IOException {
    if (!Files.isExecutable(Path.of(TorchReference.PYTHON))) {
      throw new AssertionError(TorchReference.PYTHON + " (with torch 1.13, the reference) is not installed");
    }
    if (!Files.isRegularFile(SCRIPT)) {
      throw new AssertionError(SCRIPT.toAbsolutePath() + " does not exist (the tests run in the tests module)");
    }
    ProcessBuilder pb = new ProcessBuilder(TorchReference.PYTHON, SCRIPT.toString(), job, dir.toString());
    pb.redirectErrorStream(true);
    pb.redirectOutput(dir.resolve("python.log").toFile());
    return pb.start();
  }

  /** Waits for a started export, failing with its log when it does not succeed. */
  static void await(Process p, Path dir) throws IOException, InterruptedException {
    if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("onnx_export_reference.py did not finish in " + TIMEOUT_S + " s");
    }
    if (p.exitValue() != 0) {
      throw new AssertionError("onnx_export_reference.py failed with status " + p.exitValue() + ":\n"
          + Files.readString(dir.resolve("python.log"), StandardCharsets.UTF_8));
    }
  }

  /** The float64 tensors of a reference file, with the {@code .f32}/{@code .f64} suffix {@code tag} removed. */
  static Map<String, Tensor> reference(Path file, String tag) throws IOException {
    Map<String, Tensor> all = Safetensors.read(file).tensors();
    Map<String, Tensor> out = new LinkedHashMap<>();
    all.forEach((k, v) -> {
      if (k.endsWith("." + tag)) {
        out.put(k.substring(0, k.length() - tag.length() - 1), v);
      }
    });
    return out;
  }

  /** The reference tensors without a precision suffix (the float64 AdamW results). */
  static Map<String, Tensor> untagged(Path file) throws IOException {
    Map<String, Tensor> all = Safetensors.read(file).tensors();
    Map<String, Tensor> out = new LinkedHashMap<>();
    all.forEach((k, v) -> {
      if (!k.endsWith(".f32") && !k.endsWith(".f64")) {
        out.put(k, v);
      }
    });
    return out;
  }

  /** The AdamW settings file the script reads. */
  static void writeAdamW(Path dir, int steps, double lr, double beta1, double beta2, double eps, double wd)
      throws IOException {
    List<String> parts = new ArrayList<>();
    parts.add("\"steps\":" + steps);
    parts.add("\"lr\":" + lr);
    parts.add("\"betas\":[" + beta1 + "," + beta2 + "]");
    parts.add("\"eps\":" + eps);
    parts.add("\"weight_decay\":" + wd);
    Files.writeString(dir.resolve("adamw.json"), "{" + String.join(",", parts) + "}");
  }
}
