package org.twicing.tests.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.dsl.ops.Ops.matmul;
import static org.twicing.dsl.ops.Ops.transpose;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.quant.Int8Quantizer;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.FashionMnistSubset;
import org.twicing.models.data.LabeledImages;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;
import picocli.CommandLine;

/**
 * int8 quantization: the quantized Linear computed by ONNX Runtime equals a plain-Java float64 evaluation of the
 * ONNX spec's DynamicQuantizeLinear and MatMulInteger with our per-column weight scales, and {@code twicing
 * quantize} writes a checked, default-domain model that {@code eval} runs and that agrees with the float model.
 */
class Int8QuantizeTest {
  @TempDir
  Path tmp;

  private static final int ROWS = 6;
  private static final int IN = 16;
  private static final int OUT = 5;

  /** y = x Wᵀ for x [ROWS, IN] and a random weight [OUT, IN], as a Linear layer without bias is emitted. */
  private static Graph linear(Random rng) {
    GraphBuilder g = new GraphBuilder("linear");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, ROWS, IN));
    Value w = g.parameter("fc.weight", Tensor.randn(DType.FLOAT32, rng, 0.3, OUT, IN));
    g.output("y", matmul(x, transpose(w, 1, 0)));
    return g.build();
  }

  /** Row j of a weight [OUT, IN] as the spec quantizes it per output channel: symmetric int8 and its scale. */
  private record Int8Row(float scale, long[] q) { }

  /** The scale max|w_j| / 127 and the weights rounded to it and clipped to ±127 (float32 arithmetic). */
  private static Int8Row int8Row(double[] wv, int j) {
    double m = 0;
    for (int k = 0; k < IN; k++) {
      m = Math.max(m, Math.abs((float) wv[j * IN + k]));
    }
    float ws = (float) m / 127f;
    long[] q = new long[IN];
    for (int k = 0; k < IN; k++) {
      q[k] = Math.max(-127, Math.min(127, Math.round((float) wv[j * IN + k] / ws)));
    }
    return new Int8Row(ws, q);
  }

  @Test
  void quantizedLinearMatchesTheSpecInFloat64() {
    int rows = ROWS;
    int in = IN;
    int out = OUT;
    Random rng = new Random(7);
    Graph g = linear(rng);
    ModelProto fp32 = OnnxEmitter.emit(g, EmitOptions.defaults());
    Int8Quantizer.Result q = Int8Quantizer.quantize(fp32);
    assertEquals(1, q.quantizedMatMuls());
    byte[] bytes = q.model().toByteArray();
    OnnxChecker.check(bytes);
    Tensor xs = Tensor.randn(DType.FLOAT32, rng, 1.0, rows, in);
    double[] got = OrtRunner.run(bytes, Map.of("x", xs)).get("y").toDoubles();

    double[] xv = xs.toDoubles();
    double[] wv = g.parameters().values().iterator().next().toDoubles(); // [out, in]
    // DynamicQuantizeLinear (ONNX spec): uint8, range widened to include 0, zero point rounded half to even.
    double min = 0;
    double max = 0;
    for (double v : xv) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    float scale = (float) ((max - min) / 255);
    double zp = Math.max(0, Math.min(255, Math.rint(-min / scale)));
    double[] xq = new double[xv.length];
    for (int i = 0; i < xv.length; i++) {
      xq[i] = Math.max(0, Math.min(255, Math.rint(xv[i] / scale) + zp));
    }
    double fp32Scale = 0;
    double worst = 0;
    for (int j = 0; j < out; j++) {
      Int8Row w = int8Row(wv, j);
      float ws = w.scale();
      for (int r = 0; r < rows; r++) {
        long acc = 0;
        double exact = 0;
        for (int k = 0; k < in; k++) {
          acc += (long) (xq[r * in + k] - zp) * w.q()[k];
          exact += xv[r * in + k] * wv[j * in + k];
        }
        double expected = acc * (double) (float) (scale * ws);
        assertEquals(expected, got[r * out + j], 1e-5 * Math.max(1, Math.abs(expected)), "y[" + r + "," + j + "]");
        worst = Math.max(worst, Math.abs(got[r * out + j] - exact));
        fp32Scale = Math.max(fp32Scale, Math.abs(exact));
      }
    }
    // And the quantized product is close to the float one (8-bit activations: about 1% of the range).
    assertTrue(worst < 0.03 * fp32Scale, "int8 error " + worst + " against a scale of " + fp32Scale);
  }

  @Test
  void staticQuantizationMatchesTheSpecInFloat64() {
    int rows = ROWS;
    int in = IN;
    int out = OUT;
    Random rng = new Random(11);
    Graph g = linear(rng);
    ModelProto fp32 = OnnxEmitter.emit(g, EmitOptions.defaults());
    assertEquals(List.of("x"), Int8Quantizer.calibrationPoints(fp32));
    // A calibrated range narrower than the data: values outside it must saturate, as QuantizeLinear specifies.
    Int8Quantizer.Range range = new Int8Quantizer.Range(-1.5f, 2.0f);
    Int8Quantizer.Result q = Int8Quantizer.quantize(fp32, Map.of("x", range));
    byte[] bytes = q.model().toByteArray();
    OnnxChecker.check(bytes);
    OnnxChecker.assertDefaultDomainOnly(bytes);
    assertTrue(q.model().getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("QuantizeLinear")));
    assertTrue(q.model().getGraph().getNodeList().stream().noneMatch(n -> n.getOpType().equals("DynamicQuantizeLinear")));
    Tensor xs = Tensor.randn(DType.FLOAT32, rng, 1.2, rows, in);
    double[] got = OrtRunner.run(bytes, Map.of("x", xs)).get("y").toDoubles();
    double[] xv = xs.toDoubles();
    double[] wv = g.parameters().values().iterator().next().toDoubles(); // [out, in]
    float scale = (float) ((2.0 - -1.5) / 255);
    double zp = Math.max(0, Math.min(255, Math.rint(1.5 / scale)));
    for (int j = 0; j < out; j++) {
      Int8Row w = int8Row(wv, j);
      float ws = w.scale();
      for (int r = 0; r < rows; r++) {
        long acc = 0;
        for (int k = 0; k < in; k++) {
          double xq = Math.max(0, Math.min(255, Math.rint(xv[r * in + k] / scale) + zp));
          acc += (long) (xq - zp) * w.q()[k];
        }
        double expected = acc * (double) (float) (scale * ws);
        assertEquals(expected, got[r * out + j], 1e-5 * Math.max(1, Math.abs(expected)), "y[" + r + "," + j + "]");
      }
    }
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> Int8Quantizer.quantize(fp32, Map.of()));
    assertTrue(missing.getMessage().contains("'x'"), missing.getMessage());
  }

  @Test
  void quantizeCommandWritesARunThatEvaluates() throws Exception {
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    Path data = tmp.resolve("fmnist");
    Files.createDirectories(data);
    FashionMnistSubset.writeEvenlySpaced(bundled, 128, 64, data);
    Path run = tmp.resolve("run");
    assertEquals(0, cli("train", "--data-dir", data.toString(), "--steps", "8", "--batch", "16", "--out",
        run.toString(), "--threads", "1"));
    Path qrun = tmp.resolve("qrun");
    StringWriter out = new StringWriter();
    assertEquals(0, cli(out, "quantize", "--run", run.toString(), "--out", qrun.toString(), "--iters", "2",
        "--threads", "1"));
    assertTrue(out.toString().contains("quantized ") && out.toString().contains("int8 - float32 accuracy"),
        out.toString());
    byte[] qbytes = Files.readAllBytes(qrun.resolve(ModelArtifacts.MODEL));
    OnnxChecker.check(qbytes);
    OnnxChecker.assertDefaultDomainOnly(qbytes);
    ModelProto qm = ModelProto.parseFrom(qbytes);
    List<String> inits = qm.getGraph().getInitializerList().stream().map(t -> t.getName()).toList();
    for (NodeProto n : qm.getGraph().getNodeList()) {
      if (n.getOpType().equals("MatMul")) {
        assertTrue(!inits.contains(n.getInput(1)), "a float weight MatMul is left: " + n.getName());
      }
    }
    assertTrue(qm.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("MatMulInteger")));
    assertEquals(0, qm.getTrainingInfoCount(), "the float training step is dropped");

    // The int8 run agrees with the float run on the test images: same argmax nearly everywhere, logits close.
    LabeledImages test = bundled.test();
    int n = 32;
    int per = test.pixelsPerImage();
    float[] x = new float[n * per];
    for (int i = 0; i < n; i++) {
      test.copyNormalizedImage(i, x, i * per);
    }
    double[] xd = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      xd[i] = x[i];
    }
    Tensor pixels = new Tensor(DType.FLOAT32, new long[] {n, 1, 28, 28}, xd);
    double[] f = OrtRunner.run(Files.readAllBytes(run.resolve(ModelArtifacts.MODEL)), Map.of("pixels", pixels))
        .get("logits").toDoubles();
    double[] q = OrtRunner.run(qbytes, Map.of("pixels", pixels)).get("logits").toDoubles();
    int agree = 0;
    double diff = 0;
    double scale = 0;
    for (int i = 0; i < n; i++) {
      agree += argmax(f, i * 10) == argmax(q, i * 10) ? 1 : 0;
      for (int c = 0; c < 10; c++) {
        diff = Math.max(diff, Math.abs(f[i * 10 + c] - q[i * 10 + c]));
        scale = Math.max(scale, Math.abs(f[i * 10 + c]));
      }
    }
    assertTrue(agree >= n - 2, "argmax agrees on " + agree + " of " + n);
    assertTrue(diff < 0.05 * scale, "logits differ by " + diff + " (scale " + scale + ")");

    StringWriter evalOut = new StringWriter();
    assertEquals(0, cli(evalOut, "eval", "--run", qrun.toString(), "--data-dir", data.toString()));
    assertTrue(evalOut.toString().contains("test accuracy"), evalOut.toString());
    StringWriter again = new StringWriter();
    assertEquals(1, cli(again, "quantize", "--run", run.toString(), "--out", qrun.toString()));

    // Static quantization calibrated on training images: a checked model with fixed scales that agrees too.
    Path srun = tmp.resolve("srun");
    StringWriter sout = new StringWriter();
    assertEquals(0, cli(sout, "quantize", "--run", run.toString(), "--out", srun.toString(), "--calibration", "32",
        "--iters", "1", "--threads", "1"));
    assertTrue(sout.toString().contains("calibrated ") && sout.toString().contains("static activations"),
        sout.toString());
    byte[] sbytes = Files.readAllBytes(srun.resolve(ModelArtifacts.MODEL));
    OnnxChecker.check(sbytes);
    double[] sq = OrtRunner.run(sbytes, Map.of("pixels", pixels)).get("logits").toDoubles();
    int sagree = 0;
    for (int i = 0; i < n; i++) {
      sagree += argmax(f, i * 10) == argmax(sq, i * 10) ? 1 : 0;
    }
    assertTrue(sagree >= n - 3, "static int8 argmax agrees on " + sagree + " of " + n);
  }

  private static int argmax(double[] v, int from) {
    int best = 0;
    for (int c = 1; c < 10; c++) {
      if (v[from + c] > v[from + best]) {
        best = c;
      }
    }
    return best;
  }

  private static int cli(String... args) {
    return cli(new StringWriter(), args);
  }

  private static int cli(StringWriter out, String... args) {
    CommandLine cl = TwicingCli.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(out, true));
    return cl.execute(args);
  }

}
