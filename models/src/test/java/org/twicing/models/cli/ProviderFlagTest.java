package org.twicing.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.twicing.runtime.ExecutionProvider;
import picocli.CommandLine;

/** A missing execution provider is an error naming what is missing, unless --fallback asks for CPU. */
class ProviderFlagTest {
  @Test
  void missingProviderFailsUnlessFallbackIsAsked() {
    assumeFalse(ExecutionProvider.CUDA.isInThisBuild(), "this build has CUDA");
    String[] args = {"bench", "infer", "--model", "vit-fmnist", "--batch", "1", "--iters", "1", "--warmup", "0",
        "--provider", "cuda"};
    CommandLine cl = TwicingCli.commandLine();
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    cl.setOut(new PrintWriter(new StringWriter()));
    assertEquals(TwicingCli.EXIT_FAILURE, cl.execute(args));
    assertTrue(err.toString().contains("onnxruntime_gpu"), err.toString());

    String[] withFallback = Arrays.copyOf(args, args.length + 1);
    withFallback[args.length] = "--fallback";
    CommandLine ok = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    ok.setOut(new PrintWriter(out));
    PrintStream saved = System.err;
    ByteArrayOutputStream warnings = new ByteArrayOutputStream();
    System.setErr(new PrintStream(warnings, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, ok.execute(withFallback));
    } finally {
      System.setErr(saved);
    }
    assertTrue(out.toString().contains("twicing"), out.toString());
    assertTrue(warnings.toString(StandardCharsets.UTF_8).contains("WARNING"), warnings.toString());
  }
}
