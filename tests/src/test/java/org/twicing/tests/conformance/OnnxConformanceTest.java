package org.twicing.tests.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.cli.TwicingCli;
import picocli.CommandLine;

/**
 * Runs {@code twicing conformance} over ONNX's own backend node test cases, generated here from the case
 * definitions of Debian's python3-onnx: the reference no one here wrote. Fails (never skips) when the cases
 * cannot be generated, when any supported case fails, and when a case that CONFORMANCE.md lists as passing no
 * longer passes (so the committed report cannot overstate conformance).
 */
class OnnxConformanceTest {
  private static final String PYTHON = "/usr/bin/python3";
  private static final Path GENERATOR = Path.of("src/test/python/generate_onnx_node_cases.py");
  private static final Path CONFORMANCE_MD = Path.of("../CONFORMANCE.md");
  private static final Pattern GENERATED =
      Pattern.compile("^generated (\\d+) cases from (\\d+) definitions", Pattern.MULTILINE);
  private static final Pattern SUMMARY =
      Pattern.compile("^conformance: (\\d+) passed, (\\d+) failed, (\\d+) unsupported of (\\d+) cases$",
          Pattern.MULTILINE);

  @TempDir
  Path tmp;

  @Test
  void everySupportedOnnxNodeCasePassesAndTheReportHoldsNoStalePass() throws Exception {
    Path cases = tmp.resolve("cases");
    int generated = generate(cases);

    Path report = tmp.resolve("CONFORMANCE.md");
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute("conformance", "--cases", cases.toString(), "--verbose", "--report", report.toString());
    String text = out.toString();

    List<String> failures = text.lines().filter(l -> l.startsWith("FAIL ")).toList();
    assertTrue(failures.isEmpty(), "supported ONNX node cases failed:\n" + String.join("\n", failures));
    assertEquals(0, code, "exit code; stderr:\n" + err);
    Matcher m = SUMMARY.matcher(text);
    assertTrue(m.find(), "no summary line in:\n" + tail(text));
    int passed = Integer.parseInt(m.group(1));
    assertEquals(0, Integer.parseInt(m.group(2)), m.group());
    assertEquals(generated, Integer.parseInt(m.group(4)), "every generated case is counted: " + m.group());
    assertEquals(generated, passed + Integer.parseInt(m.group(3)), m.group());
    assertTrue(passed > 0, "no ONNX node case passed: " + m.group());
    // Every case not passed is listed with a reason (no silent skips), on screen and in the report.
    long listed = text.lines().filter(l -> l.startsWith("UNSUPPORTED ") && l.contains("] ")).count();
    assertEquals(Integer.parseInt(m.group(3)), listed, "unsupported cases printed with a reason");
    String md = Files.readString(report, StandardCharsets.UTF_8);
    assertTrue(md.contains(m.group()), "the report carries the summary line");

    Set<String> passing = new LinkedHashSet<>();
    text.lines().filter(l -> l.startsWith("PASS ")).forEach(l -> passing.add(l.substring(5).split(" ", 2)[0]));
    assertEquals(passed, passing.size());
    List<String> stale = new ArrayList<>();
    for (String name : claimedPasses()) {
      if (!passing.contains(name)) {
        stale.add(name);
      }
    }
    assertTrue(stale.isEmpty(), CONFORMANCE_MD.toAbsolutePath().normalize() + " lists as passing cases that do "
        + "not pass now (regenerate it or fix the regression): " + stale);
  }

  /** Runs the generator into {@code dir}; returns how many cases it wrote, failing when it could not run. */
  private static int generate(Path dir) throws IOException, InterruptedException {
    assertTrue(Files.isRegularFile(GENERATOR), "generator missing: " + GENERATOR.toAbsolutePath());
    Process p = new ProcessBuilder(PYTHON, GENERATOR.toString(), "--out", dir.toString(), "--upgrade-to-opset",
        "13")
        .redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(300, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("case generation did not finish:\n" + tail(log));
    }
    assertEquals(0, p.exitValue(), "generating ONNX's node cases with " + PYTHON + " (Debian's python3-onnx) "
        + "failed:\n" + tail(log));
    Matcher m = GENERATED.matcher(log);
    assertTrue(m.find(), "generator printed no summary:\n" + tail(log));
    int n = Integer.parseInt(m.group(1));
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(n, s.filter(c -> Files.isRegularFile(c.resolve("model.onnx"))).count(),
          "case folders written vs reported: " + m.group());
    }
    return n;
  }

  /** The case names CONFORMANCE.md lists under "Passing cases". */
  private static List<String> claimedPasses() throws IOException {
    assertTrue(Files.isRegularFile(CONFORMANCE_MD), "missing " + CONFORMANCE_MD.toAbsolutePath().normalize());
    List<String> names = new ArrayList<>();
    boolean inSection = false;
    for (String line : Files.readAllLines(CONFORMANCE_MD, StandardCharsets.UTF_8)) {
      if (line.startsWith("## ")) {
        inSection = line.equals("## Passing cases");
        continue;
      }
      if (inSection && line.startsWith("- ") && !line.startsWith("- `")) {
        Matcher m = Pattern.compile("`(test_[^`]+)`").matcher(line);
        while (m.find()) {
          names.add(m.group(1));
        }
      }
    }
    assertFalse(names.isEmpty(), CONFORMANCE_MD + " has no '## Passing cases' list");
    return names;
  }

  private static String tail(String s) {
    return s.length() <= 4000 ? s : "..." + s.substring(s.length() - 4000);
  }
}
