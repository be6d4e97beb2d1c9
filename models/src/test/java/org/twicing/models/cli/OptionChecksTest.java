package org.twicing.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.cli.TwicingCliTest.Result;

/**
 * Every option value outside what the option allows is a usage error (exit 2) of one line naming the option, the
 * value and what is allowed, given before anything is loaded or built (a missing --data-dir or run is not reached).
 */
class OptionChecksTest {
  @TempDir
  Path tmp;

  /** A command line with one bad value: the option and value the error must name. */
  record Case(String option, String value, String... args) { }

  @Test
  void badValuesAreOneLineUsageErrorsNamingOptionValueAndWhatIsAllowed() {
    String out = tmp.resolve("out").toString();
    String none = tmp.resolve("missing").toString();
    List<Case> cases = List.of(
        new Case("--dropout", "1.5", "emit", "--out", out, "--dropout", "1.5"),
        new Case("--vocab", "0", "emit", "--out", out, "--model", "lm-paper", "--vocab", "0"),
        new Case("--vocab", "-128", "emit", "--out", out, "--model", "lm-paper", "--vocab", "-128"),
        new Case("--vocab", "99999999999999", "emit", "--out", out, "--model", "lm-paper", "--vocab",
            "99999999999999"),
        new Case("--opset", "99", "emit", "--out", out, "--opset", "99"),
        new Case("--attention", "twicing99999", "emit", "--out", out, "--attention", "twicing99999"),
        new Case("--attention", "twicing007", "emit", "--out", out, "--attention", "twicing007"),
        new Case("--lr", "Infinity", "train", "--data-dir", none, "--lr", "Infinity"),
        new Case("--lr", "NaN", "train", "--data-dir", none, "--lr", "NaN"),
        new Case("--momentum", "2", "train", "--data-dir", none, "--optimizer", "sgd", "--momentum", "2"),
        new Case("--min-lr", "0.01", "train", "--data-dir", none, "--lr", "0.001", "--min-lr", "0.01"),
        new Case("--min-lr", "0.5", "train", "--data-dir", none, "--min-lr", "0.5"),
        new Case("--threads", "-1", "train", "--data-dir", none, "--threads", "-1"),
        new Case("--threads", "100000", "train", "--data-dir", none, "--threads", "100000"),
        new Case("--attention", "twicing99999", "train", "--data-dir", none, "--attention", "twicing99999"),
        new Case("--batch", "0", "train", "--data-dir", none, "--batch", "0"),
        new Case("--label-smoothing", "1", "train", "--data-dir", none, "--label-smoothing", "1"),
        new Case("--threads", "100000", "eval", "--run", none, "--threads", "100000"),
        new Case("--temperature", "-1", "predict", "--run", none, "--prompt", "x", "--temperature", "-1"),
        new Case("--examples", "0", "analyze", "--run", none, "--examples", "0"),
        new Case("--iters", "0", "bench", "infer", "--iters", "0"),
        new Case("--iters", "-1", "bench", "train", "--iters", "-1"),
        new Case("--batch", "0", "bench", "infer", "--batch", "0"),
        new Case("--range", "batch=64,8,1", "inspect", "--tensorrt", "--range", "batch=64,8,1", none));
    for (Case c : cases) {
      Result r = TwicingCliTest.run(c.args());
      String what = String.join(" ", c.args()) + " -> " + r.err();
      assertEquals(TwicingCli.EXIT_USAGE, r.exitCode(), what);
      assertEquals("", r.out(), what);
      String first = r.err().lines().findFirst().orElse("");
      assertTrue(first.startsWith("twicing: error: " + c.option() + " " + c.value() + ": expected "), what);
      assertEquals(2, r.err().lines().count(), what); // the error and the pointer to --help
      assertTrue(r.err().lines().toList().get(1).startsWith("Try 'twicing "), what);
    }
    assertTrue(!Files.exists(tmp.resolve("out")), "nothing was emitted");
  }

  @Test
  void valuesAtTheEdgesOfTheirRangesAreAccepted() {
    Path out = tmp.resolve("edges");
    Result r = TwicingCliTest.run("emit", "--model", "vit-tiny", "--inference-only", "--opset", "23", "--attention",
        "twicing16", "--dropout", "0", "--out", out.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(Files.isRegularFile(out.resolve("model.onnx")));
  }
}
