package org.twicing.models.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.twicing.models.conformance.CaseResult.Status;

/**
 * The results of a conformance run: counts, the summary line the CLI prints last, and CONFORMANCE.md (per op,
 * how many of ONNX's cases pass, and every failed or unsupported case with its reason).
 */
public final class ConformanceReport {
  private final List<CaseResult> results;

  /** A report over {@code results}, in the order given. */
  public ConformanceReport(List<CaseResult> results) {
    this.results = List.copyOf(results);
  }

  /** The results. */
  public List<CaseResult> results() {
    return results;
  }

  /** How many results have {@code status}. */
  public int count(Status status) {
    return (int) results.stream().filter(r -> r.status() == status).count();
  }

  /** {@code conformance: P passed, F failed, U unsupported of N cases}. */
  public String summaryLine() {
    return "conformance: " + count(Status.PASSED) + " passed, " + count(Status.FAILED) + " failed, "
        + count(Status.UNSUPPORTED) + " unsupported of " + results.size() + " cases";
  }

  /** The results grouped by op under test, ops sorted by name. */
  public Map<String, List<CaseResult>> byOp() {
    Map<String, List<CaseResult>> out = new TreeMap<>();
    for (CaseResult r : results) {
      out.computeIfAbsent(r.op(), k -> new ArrayList<>()).add(r);
    }
    return out;
  }

  /**
   * CONFORMANCE.md. {@code commands} are the shell commands that produced the run (shown verbatim);
   * {@code generation} is what the case generator printed (its cases it could not generate must be listed too),
   * or empty when the cases came from elsewhere.
   */
  public String markdown(List<String> commands, String generation) {
    StringBuilder md = new StringBuilder();
    md.append("# Conformance against ONNX's backend node tests\n\n")
        .append("Each case is one of ONNX's official backend node test cases (`model.onnx` with ")
        .append("`test_data_set_N/input_K.pb` and `output_K.pb`), generated from the case definitions of the ")
        .append("installed `onnx` Python package. A case passes when our importer reads it, our float64 ")
        .append("reference evaluator reproduces every expected output, and the model re-emitted by our ")
        .append("`OnnxEmitter` reproduces them again in ONNX Runtime, both at ONNX's backend-runner tolerances ")
        .append("(`numpy.testing.assert_allclose`, rtol 1e-3, atol 1e-7, unless the case names others). ")
        .append("A case is unsupported, and listed below with its reason, when it needs what we do not ")
        .append("claim: an input or output that is not a dense tensor of float32, float64, float16, bfloat16, ")
        .append("int64, int32 or bool; an op outside our registry; an opset or attribute form the importer or ")
        .append("an op's shape rule refuses with a message before anything runs; or a kernel ONNX Runtime lacks. ")
        .append("Everything else counts as a failure: a value outside the tolerance at either stage, or any ")
        .append("exception once the model was accepted.\n\n");
    md.append("This file is generated; regenerate it with:\n\n```sh\n");
    commands.forEach(c -> md.append(c).append('\n'));
    md.append("```\n\n");
    md.append("**").append(summaryLine()).append("**\n\n");

    md.append("## Per op\n\n| Op | Cases | Passed | Failed | Unsupported |\n|---|---:|---:|---:|---:|\n");
    byOp().forEach((op, rs) -> md.append("| ").append(op).append(" | ").append(rs.size()).append(" | ")
        .append(count(rs, Status.PASSED)).append(" | ").append(count(rs, Status.FAILED)).append(" | ")
        .append(count(rs, Status.UNSUPPORTED)).append(" |\n"));

    md.append("\n## Passing cases\n\n")
        .append("The conformance test in CI fails when a case listed here no longer passes.\n\n");
    byOp().forEach((op, rs) -> {
      List<CaseResult> passed = rs.stream().filter(r -> r.status() == Status.PASSED).toList();
      if (!passed.isEmpty()) {
        md.append("- ").append(op).append(": ");
        for (int i = 0; i < passed.size(); i++) {
          md.append(i == 0 ? "" : ", ").append('`').append(passed.get(i).caseName()).append('`');
        }
        md.append('\n');
      }
    });
    List<CaseResult> adapted = results.stream()
        .filter(r -> r.status() == Status.PASSED && !r.detail().isEmpty()).toList();
    if (!adapted.isEmpty()) {
      md.append("\nPassed after an adaptation, said for each: a model ONNX wrote at an opset older than our ")
          .append("importer reads, converted by ONNX's own `onnx.version_converter`; or operands ONNX feeds as ")
          .append("graph inputs that our importer needs constant, given as initializers holding the same test ")
          .append("values.\n\n");
      adapted.forEach(r -> md.append("- `").append(r.caseName()).append("`: ").append(inline(r.detail()))
          .append('\n'));
    }
    md.append("\n## Failed cases\n\n");
    appendList(md, Status.FAILED, "None.");
    md.append("\n## Unsupported cases\n\nEvery case not run to the end, with the reason.\n\n");
    Map<String, Integer> reasons = new TreeMap<>();
    for (CaseResult r : results) {
      if (r.status() == Status.UNSUPPORTED) {
        reasons.merge(reasonKind(r.detail()), 1, Integer::sum);
      }
    }
    if (!reasons.isEmpty()) {
      md.append("| Reason | Cases |\n|---|---:|\n");
      reasons.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
          .forEach(e -> md.append("| ").append(cell(e.getKey())).append(" | ").append(e.getValue()).append(" |\n"));
      md.append('\n');
    }
    appendList(md, Status.UNSUPPORTED, "None.");
    if (!generation.isBlank()) {
      md.append("\n## Case generation\n\nWhat the generator printed (cases ONNX defines that it could not ")
          .append("generate are listed here, so none is skipped silently):\n\n```\n")
          .append(generation.strip()).append("\n```\n");
    }
    return md.toString();
  }

  private void appendList(StringBuilder md, Status status, String none) {
    boolean any = false;
    for (Map.Entry<String, List<CaseResult>> e : byOp().entrySet()) {
      List<CaseResult> rs = e.getValue().stream().filter(r -> r.status() == status).toList();
      if (rs.isEmpty()) {
        continue;
      }
      any = true;
      md.append("### ").append(e.getKey()).append("\n\n");
      for (CaseResult r : rs) {
        md.append("- `").append(r.caseName()).append("` [").append(r.stage().label()).append("] ")
            .append(inline(status == Status.UNSUPPORTED ? clean(r.detail()) : r.detail())).append('\n');
      }
      md.append('\n');
    }
    if (!any) {
      md.append(none).append('\n');
    }
  }

  /**
   * A reason reduced to its kind, so reasons can be counted: case-specific names dropped, e.g. every
   * "input 'x' is of element type uint8 (...)" becomes "element type uint8".
   */
  static String reasonKind(String detail) {
    String d = detail.strip();
    int elem = d.indexOf("of element type ");
    if (elem >= 0) {
      String rest = d.substring(elem + "of element type ".length());
      int sp = rest.indexOf(' ');
      return "element type " + (sp < 0 ? rest : rest.substring(0, sp));
    }
    if (d.contains("not claimed")) {
      return "op not claimed";
    }
    if (d.startsWith("ONNX Runtime's provider has no kernel")) {
      return "ONNX Runtime has no kernel";
    }
    if (d.contains("(only dense tensors are supported)")) {
      return "non-tensor value (sequence, map, optional)";
    }
    return clean(d).replaceAll("'[^']*'", "'…'");
  }

  /**
   * A reason without what only repeats the case (exception type, model name, node name, call site, operand
   * list, the list of supported dtypes), keeping what was refused.
   */
  static String clean(String detail) {
    String d = detail.strip()
        .replaceFirst("^[A-Za-z]+(Exception|Error): ", "")
        .replaceFirst("^cannot import model '[^']*' \\([^)]*\\): ", "")
        .replaceFirst("^model '[^']*': ", "")
        .replaceFirst("^(\\w+) node '[^']*': ", "$1: ")
        .replaceFirst("^(\\w+) \\(node [^,]*, called at [^)]*\\)\\): ", "$1: ")
        .replaceFirst(" \\(supported: [^)]*\\)$", "");
    int operands = d.indexOf("; operands:");
    if (operands >= 0) {
      d = d.substring(0, operands);
    }
    return d.length() > 200 ? d.substring(0, 200) + "..." : d;
  }

  private static int count(List<CaseResult> rs, Status s) {
    return (int) rs.stream().filter(r -> r.status() == s).count();
  }

  /** Text safe inside a Markdown list item (backticks kept, newlines flattened). */
  private static String inline(String s) {
    return s.replace('\n', ' ').replace('\r', ' ');
  }

  /** Text safe inside a Markdown table cell. */
  private static String cell(String s) {
    return inline(s).replace("|", "\\|");
  }
}
