package org.twicing.tests.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.cli.TwicingCli;

/**
 * The GPU check on this CPU-only machine: {@code scripts/device-check.sh} says "no GPU" and exits 0, and
 * {@code twicing device-check} reports the GPU providers as not loading (with ONNX Runtime's reason) while the CPU
 * provider agrees with itself exactly.
 */
class DeviceCheckTest {
  @TempDir
  Path tmp;

  @Test
  void scriptSaysNoGpuAndExitsZero() throws Exception {
    Path script = Path.of("..", "scripts", "device-check.sh").toAbsolutePath().normalize();
    Path report = tmp.resolve("report.md");
    ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), report.toString()).redirectErrorStream(true)
        .redirectOutput(tmp.resolve("log").toFile());
    // A PATH without any nvidia-smi, so the test means the same on a developer's GPU workstation.
    pb.environment().put("PATH", "/usr/bin:/bin");
    assertFalse(Files.exists(Path.of("/usr/bin/nvidia-smi")) || Files.exists(Path.of("/bin/nvidia-smi")),
        "this test needs a PATH without nvidia-smi");
    Process p = pb.start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "device-check.sh did not finish in 60 s");
    String log = Files.readString(tmp.resolve("log"));
    assertEquals(0, p.exitValue(), log);
    String md = Files.readString(report);
    assertTrue(md.startsWith("# twicing device check"), md);
    assertTrue(md.contains("no GPU: nvidia-smi is missing"), md);
    // The prerequisites are listed on any machine, each found (with what) or missing (with why).
    assertTrue(md.contains("## Prerequisites"), md);
    for (String item : new String[] {"- java: ", "- mvn: ", "- onnxruntime_gpu jar in ~/.m2: ",
        "- CUDA runtime (libcudart) majors: ", "- cuDNN (libcudnn) majors: ", "- trtexec: "}) {
      assertTrue(md.contains(item), item + " in\n" + md);
    }
    assertTrue(md.contains("- java: openjdk") || md.contains("- java: missing ("), md);
    assertFalse(Files.exists(Path.of(report + ".tmp")), "no half-written report left");
  }

  @Test
  void commandReportsMissingProvidersAndCpuAgreement() throws Exception {
    Path report = tmp.resolve("dc.md");
    TwicingCli.Captured out = TwicingCli.capture("device-check", "--providers", "cuda,cpu", "--models", "lm-tiny",
        "--report", report.toString());
    assertEquals(0, out.code(), out.out() + out.err());
    String md = Files.readString(report);
    assertEquals(out.out(), md);
    assertTrue(md.contains("| cuda | no |"), md);
    assertTrue(md.contains("cuda does not load: ") && md.contains("onnxruntime_gpu"), md);
    assertTrue(md.contains("| cpu | yes | lm-tiny | 0.00e+00 | yes |"), md);
    assertEquals(1, TwicingCli.capture("device-check", "--providers", "cuda", "--models", "lm-tiny", "--require")
        .code());
    assertEquals(2, TwicingCli.capture("device-check", "--models", "vit-huge").code());
  }
}
