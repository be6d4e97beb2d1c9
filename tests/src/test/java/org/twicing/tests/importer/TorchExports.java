package org.twicing.tests.importer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.types.Tensor;

/**
 * Models exported by Debian's PyTorch ({@code src/test/python/onnx_export.py} run with {@code /usr/bin/python3})
 * with their float64 PyTorch references, generated once per JVM into a temporary directory. A missing
 * interpreter or torch is a failure, not a skip: these are the importer's independent reference.
 */
final class TorchExports {
  static final String PYTHON = "/usr/bin/python3";
  static final Path SCRIPT = Path.of("src/test/python/onnx_export.py");
  /** The opsets exported (torch 1.13 exports up to 17). */
  static final int[] OPSETS = {13, 15, 17};

  private static Path dir;

  private TorchExports() { }

  /** The directory holding {@code <model>_op<k>.onnx} and {@code .safetensors}, generated on first use. */
  static synchronized Path dir() {
    if (dir != null) {
      return dir;
    }
    if (!Files.isRegularFile(SCRIPT)) {
      throw new AssertionError(SCRIPT.toAbsolutePath() + " does not exist (the tests run in the tests module)");
    }
    try {
      Path out = Files.createTempDirectory("twicing-torch-export-");
      Path log = out.resolve("export.log");
      Process p = new ProcessBuilder(PYTHON, SCRIPT.toString(), "--out", out.toString())
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      if (!p.waitFor(300, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError(PYTHON + " " + SCRIPT + " did not finish in 300 s");
      }
      if (p.exitValue() != 0) {
        throw new AssertionError(PYTHON + " " + SCRIPT + " failed (exit " + p.exitValue() + "):\n"
            + Files.readString(log, StandardCharsets.UTF_8));
      }
      dir = out;
      return dir;
    } catch (IOException e) {
      throw new AssertionError("cannot run " + PYTHON + " (Debian's python3 with torch is the reference): " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** The exported file of {@code model} at {@code opset}. */
  static Path onnx(String model, int opset) {
    return dir().resolve(model + "_op" + opset + ".onnx");
  }

  /** The float64 PyTorch reference tensors of {@code model} at {@code opset}. */
  static Map<String, Tensor> reference(String model, int opset) {
    try {
      return Safetensors.read(dir().resolve(model + "_op" + opset + ".safetensors")).tensors();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }
}
