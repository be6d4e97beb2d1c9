package org.twicing.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.cli.TwicingCliTest.Result;
import org.twicing.runtime.ExecutionProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Failures that used to print a stack trace, a misleading reason or the Java API's name are one clear line. */
class CliMessagesTest {
  @TempDir
  Path tmp;

  /** Stands in for a command that runs out of heap. */
  @Command(name = "oom")
  static final class OutOfMemory implements Callable<Integer> {
    @Override
    public Integer call() {
      throw new OutOfMemoryError("Java heap space");
    }
  }

  @Test
  void outOfMemoryIsOneLineWithTheXmxHint() {
    CommandLine cl = TwicingCli.commandLine();
    cl.addSubcommand(new OutOfMemory());
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err, true));
    cl.setOut(new PrintWriter(new StringWriter(), true));
    assertEquals(TwicingCli.EXIT_FAILURE, TwicingCli.execute(cl, "oom"));
    assertEquals(1, err.toString().lines().count(), err.toString());
    assertTrue(err.toString().startsWith("twicing: error: out of memory (Java heap space, JVM limit "), err.toString());
    assertTrue(err.toString().contains("-Xmx"), err.toString());
  }

  @Test
  void aDeviceGivenAsTextDataIsNotReportedAsMissing() {
    Path zero = Path.of("/dev/zero");
    assertTrue(Files.exists(zero), "the test needs /dev/zero");
    Result r = TwicingCliTest.run("train", "--data", "text:" + zero, "--steps", "1", "--out",
        tmp.resolve("run").toString());
    assertEquals(1, r.exitCode(), r.err());
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().contains("/dev/zero: not a regular file or directory"), r.err());
    assertFalse(r.err().contains("does not exist"), r.err());
  }

  @Test
  void anUnavailableProviderNamesTheFlagAndFallbackWarnsOnceAndSaysCpu() throws IOException {
    assumeFalse(ExecutionProvider.CUDA.isInThisBuild(), "this build has CUDA: the provider is not unavailable");
    Path text = Files.writeString(tmp.resolve("t.txt"), "twicing attention smooths the residual once more.\n"
        .repeat(40));
    Result fail = TwicingCliTest.run("train", "--data", "text:" + text, "--steps", "1", "--batch", "2",
        "--provider", "cuda", "--out", tmp.resolve("no").toString());
    assertEquals(1, fail.exitCode(), fail.err());
    assertEquals(1, fail.err().lines().count(), fail.err());
    assertTrue(fail.err().contains("Give --fallback to run on cpu instead."), fail.err());
    assertFalse(fail.err().contains("SessionOptionsSpec"), fail.err());

    Result ok = TwicingCliTest.run("train", "--data", "text:" + text, "--steps", "1", "--batch", "2",
        "--eval-every", "0", "--threads", "1", "--provider", "cuda", "--fallback", "--out",
        tmp.resolve("yes").toString());
    assertEquals(0, ok.exitCode(), ok.err());
    assertEquals(1, ok.err().lines().filter(l -> l.contains("WARNING")).count(), ok.err());
    assertTrue(ok.err().contains("--provider cuda is unavailable, running on cpu (--fallback)"), ok.err());
    assertTrue(ok.out().contains(", on cpu with 1 threads;"), ok.out());
  }
}
