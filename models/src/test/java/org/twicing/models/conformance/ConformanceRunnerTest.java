package org.twicing.models.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.importer.TensorProtos;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.TypeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.conformance.CaseResult.Stage;
import org.twicing.models.conformance.CaseResult.Status;
import picocli.CommandLine;

/**
 * The harness on hand-made cases in ONNX's on-disk layout: a right answer passes, a wrong one fails at the stage
 * that produced it, a value just inside or just outside ONNX's tolerance is judged as numpy would, and what we
 * do not claim is unsupported with its reason; the CLI prints and exits accordingly.
 */
class ConformanceRunnerTest {
  @TempDir
  Path tmp;

  /** x + y for x = [1, 2], y = [3, 4]: the expected output is [4, 6] by hand. */
  private static final float[] X = {1, 2};
  private static final float[] Y = {3, 4};

  @Test
  void theRightAnswerPassesBothStages() throws IOException {
    CaseResult r = run(addCase("test_right", 4f, 6f));
    assertEquals(Status.PASSED, r.status(), r.line());
    assertEquals("Add", r.op());
  }

  @Test
  void aWrongExpectedValueFailsAtTheEvaluatorWithTheErrorSize() throws IOException {
    CaseResult r = run(addCase("test_wrong", 4f, 6.5f));
    assertEquals(Status.FAILED, r.status(), r.line());
    assertEquals(Stage.EVALUATOR, r.stage());
    assertTrue(r.detail().contains("max abs 0.500"), r.detail());
    assertTrue(r.line().startsWith("FAIL test_wrong [evaluator] "), r.line());
  }

  @Test
  void tolerancesAreOnnxsRelativeOnes() throws IOException {
    // 1e-3 relative of 6 is 6e-3: 0.004 off passes, 0.008 off fails (atol 1e-7 is negligible here).
    assertEquals(Status.PASSED, run(addCase("test_inside", 4f, 6.004f)).status());
    assertEquals(Status.FAILED, run(addCase("test_outside", 4f, 6.008f)).status());
  }

  @Test
  void aCasesToleranceJsonSetsItsTolerancesAndABadValueIsAnErrorNamingTheFile() throws IOException {
    ConformanceCase c = addCase("test_tolerance", 4f, 6f);
    // As the generator's json.dump writes it, with spaces and an exponent; a missing key keeps ONNX's default.
    Files.writeString(c.dir().resolve("tolerance.json"), "{\"rtol\": 2e-05}");
    ConformanceCase read = ConformanceCase.at(c.dir());
    assertEquals(2e-5, read.rtol());
    assertEquals(ConformanceCase.DEFAULT_ATOL, read.atol());
    Files.writeString(c.dir().resolve("tolerance.json"), "{\"rtol\": 1e-3, \"atol\": \"small\"}");
    IOException e = assertThrows(IOException.class, () -> ConformanceCase.at(c.dir()));
    assertTrue(e.getMessage().contains("tolerance.json: atol is not a number"), e.getMessage());
  }

  @Test
  void anElementTypeWeDoNotHoldIsUnsupportedWithTheReason() throws IOException {
    Path dir = tmp.resolve("test_uint8");
    Files.createDirectories(dir.resolve("test_data_set_0"));
    ModelProto m = model("Abs", List.of(info("x", 2, 2)), info("y", 2, 2));
    Files.write(dir.resolve("model.onnx"), m.toByteArray());
    TensorProto bytes = TensorProto.newBuilder().setDataType(2).addDims(2)
        .setRawData(ByteString.copyFrom(new byte[] {1, 2})).setName("x").build();
    Files.write(dir.resolve("test_data_set_0/input_0.pb"), bytes.toByteArray());
    Files.write(dir.resolve("test_data_set_0/output_0.pb"), bytes.toByteArray());
    CaseResult r = run(ConformanceCase.at(dir));
    assertEquals(Status.UNSUPPORTED, r.status(), r.line());
    assertTrue(r.detail().contains("element type uint8"), r.detail());
    assertEquals("element type uint8", ConformanceReport.reasonKind(r.detail()));
  }

  @Test
  void anOpWeDoNotClaimIsUnsupportedByName() throws IOException {
    Path dir = tmp.resolve("test_acos");
    ModelProto m = model("Acos", List.of(info("x", 1, 2)), info("y", 1, 2));
    writeCase(dir, m, List.of(Tensor.floats(new long[] {2}, 0.5f, 1f)), Tensor.floats(new long[] {2}, 1.0472f, 0f));
    CaseResult r = run(ConformanceCase.at(dir));
    assertEquals(Status.UNSUPPORTED, r.status(), r.line());
    assertEquals("op Acos not claimed", r.detail());
  }

  @Test
  void theCommandPrintsFailuresAndTheSummaryAndExitsOneOnAFailure() throws IOException {
    addCase("test_a_right", 4f, 6f);
    addCase("test_b_wrong", 4f, 7f);
    Path report = tmp.resolve("CONFORMANCE.md");
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(new StringWriter(), true));
    int code = cl.execute("conformance", "--cases", tmp.toString(), "--report", report.toString());
    List<String> lines = out.toString().lines().toList();
    assertEquals(1, code, out.toString());
    assertEquals(2, lines.size(), out.toString());
    assertTrue(lines.get(0).startsWith("FAIL test_b_wrong [evaluator] "), lines.get(0));
    assertEquals("conformance: 1 passed, 1 failed, 0 unsupported of 2 cases", lines.get(1));
    String md = Files.readString(report);
    assertTrue(md.contains("| Add | 2 | 1 | 1 | 0 |"), md);
    assertTrue(md.contains("- Add: `test_a_right`"), md);

    // Selecting only cases of another op runs nothing, and says so instead of reporting 0 of 0.
    StringWriter err = new StringWriter();
    cl = TwicingCli.commandLine();
    cl.setOut(new PrintWriter(new StringWriter(), true));
    cl.setErr(new PrintWriter(err, true));
    assertEquals(1, cl.execute("conformance", "--cases", tmp.toString(), "--ops", "Mul"));
    assertTrue(err.toString().contains("--ops Mul: no case under"), err.toString());
  }

  private CaseResult run(ConformanceCase c) throws IOException {
    List<CaseResult> rs = ConformanceRunner.onCpu().runAll(List.of(c), op -> true, r -> { });
    assertEquals(1, rs.size());
    return rs.get(0);
  }

  /** A one-node Add case at opset 13 whose expected output is {@code [e0, e1]}. */
  private ConformanceCase addCase(String name, float e0, float e1) throws IOException {
    Path dir = tmp.resolve(name);
    ModelProto m = model("Add", List.of(info("x", 1, 2), info("y", 1, 2)), info("z", 1, 2));
    writeCase(dir, m, List.of(Tensor.floats(new long[] {2}, X), Tensor.floats(new long[] {2}, Y)),
        Tensor.floats(new long[] {2}, e0, e1));
    return ConformanceCase.at(dir);
  }

  private static void writeCase(Path dir, ModelProto m, List<Tensor> inputs, Tensor output) throws IOException {
    Path ds = Files.createDirectories(dir.resolve("test_data_set_0"));
    Files.write(dir.resolve("model.onnx"), m.toByteArray());
    for (int i = 0; i < inputs.size(); i++) {
      Files.write(ds.resolve("input_" + i + ".pb"),
          TensorProtos.fromTensor(m.getGraph().getInput(i).getName(), inputs.get(i)).toByteArray());
    }
    Files.write(ds.resolve("output_0.pb"),
        TensorProtos.fromTensor(m.getGraph().getOutput(0).getName(), output).toByteArray());
  }

  private static ModelProto model(String op, List<ValueInfoProto> inputs, ValueInfoProto output) {
    NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).addOutput(output.getName());
    inputs.forEach(i -> n.addInput(i.getName()));
    GraphProto g = GraphProto.newBuilder().setName("case").addNode(n).addAllInput(inputs).addOutput(output).build();
    return ModelProto.newBuilder().setIrVersion(8).setProducerName("backend-test").setGraph(g)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).build();
  }

  /** A rank-1 tensor value of element type {@code code} and length {@code n}. */
  private static ValueInfoProto info(String name, int code, long n) {
    assertTrue(code != 1 || DType.FLOAT32.onnxCode() == 1, "ONNX code 1 is float32");
    return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
        TypeProto.Tensor.newBuilder().setElemType(code).setShape(TensorShapeProto.newBuilder()
            .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(n))))).build();
  }
}
