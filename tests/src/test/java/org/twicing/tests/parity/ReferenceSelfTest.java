package org.twicing.tests.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The PyTorch reference's own self-test ({@code selftest_reference.py}: the reference against hand-written loops,
 * finite differences and a second, loop-per-head attention, and its refusal of what it does not implement, such as
 * dropout without masks) runs in the build, so the parity tests never lean on an unchecked reference.
 */
class ReferenceSelfTest {
  /** Generous: the self-test takes about 15 s; only a hung interpreter comes near this. */
  static final long LIMIT_S = 600;

  @Test
  void referenceSelfTestPasses() throws Exception {
    TorchReference.get(); // skips (or, under twicing.requireReferences, fails) exactly when torch is missing
    Path script = TorchReference.SCRIPT_DIR.resolve("selftest_reference.py").toAbsolutePath();
    assertTrue(Files.isRegularFile(script), script + " does not exist");
    Path log = Files.createTempFile("twicing-selftest-", ".log");
    try {
      Process p = new ProcessBuilder(TorchReference.PYTHON, script.toString()).redirectErrorStream(true)
          .redirectOutput(log.toFile()).start();
      boolean done = p.waitFor(LIMIT_S, TimeUnit.SECONDS);
      if (!done) {
        p.destroyForcibly().waitFor();
      }
      String out = Files.readString(log, StandardCharsets.UTF_8);
      assertTrue(done, "selftest_reference.py did not finish within " + LIMIT_S + " s:\n" + out);
      System.out.print(out.lines().filter(l -> !l.startsWith("PASS")).map(l -> "[selftest] " + l + "\n")
          .reduce("", String::concat));
      assertEquals(0, p.exitValue(), "selftest_reference.py failed:\n" + out);
      Matcher m = Pattern.compile("(?m)^(\\d+) passed, (\\d+) failed$").matcher(out);
      assertTrue(m.find(), "no summary line in:\n" + out);
      assertEquals("0", m.group(2), out);
      assertTrue(Integer.parseInt(m.group(1)) >= 18, "fewer checks ran than the script defines:\n" + out);
    } finally {
      Files.deleteIfExists(log);
    }
  }
}
