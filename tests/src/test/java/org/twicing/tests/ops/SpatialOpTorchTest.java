package org.twicing.tests.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.parity.TorchReference;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;
import org.twicing.tests.support.Tolerance;

/**
 * General Conv, BatchNormalization (both modes), MaxPool and AveragePool against PyTorch
 * ({@code src/test/python/torch_ops.py} under Debian's {@code /usr/bin/python3}): the forward value and the
 * gradients of L = sum(y * r) that our autodiff builds from the ops' gradient rules, run both in ONNX Runtime
 * (float32; the emitted training graph with ConvTranspose, ScatterElements, the lowered training-mode
 * BatchNormalization) and in the float64 reference evaluator, compared with torch.autograd in float64 on the same
 * float32 inputs.
 */
class SpatialOpTorchTest {
  /** ONNX Runtime computes in float32. */
  static final double ORT_TOL = 1e-4;
  /** The float64 evaluator against torch's float64. */
  static final double F64_TOL = 1e-9;

  /** One case: a name, the ONNX op, its ONNX attributes for torch (JSON), inputs, which to differentiate, body. */
  record Case(String name, String op, String attrsJson, Map<String, long[]> inputs, List<String> wrt,
      Function<Map<String, Value>, Value> body) { }

  private static Map<String, long[]> shapes(Object... nameThenShape) {
    Map<String, long[]> m = new LinkedHashMap<>();
    for (int i = 0; i < nameThenShape.length; i += 2) {
      m.put((String) nameThenShape[i], (long[]) nameThenShape[i + 1]);
    }
    return m;
  }

  private static long[] s(long... v) {
    return v;
  }

  static List<Case> cases() {
    List<Case> cs = new ArrayList<>();
    cs.add(new Case("conv2d_overlap_stride2_asym_pads", "Conv", "{\"strides\":[2,2],\"pads\":[1,0,2,1]}",
        shapes("x", s(2, 3, 7, 6), "w", s(4, 3, 3, 3), "b", s(4)), List.of("x", "w", "b"),
        v -> Ops.conv(v.get("x"), v.get("w"), v.get("b"), s(2, 2), s(1, 0, 2, 1), s(1, 1), 1)));
    cs.add(new Case("conv2d_groups2_dilation2", "Conv", "{\"pads\":[1,1,1,1],\"dilations\":[2,2],\"group\":2}",
        shapes("x", s(2, 4, 6, 7), "w", s(6, 2, 3, 2)), List.of("x", "w"),
        v -> Ops.conv(v.get("x"), v.get("w"), null, s(1, 1), s(1, 1, 1, 1), s(2, 2), 2)));
    cs.add(new Case("conv2d_depthwise", "Conv", "{\"strides\":[2,1],\"pads\":[1,1,1,1],\"group\":3}",
        shapes("x", s(2, 3, 6, 5), "w", s(3, 1, 3, 3), "b", s(3)), List.of("x", "w", "b"),
        v -> Ops.conv(v.get("x"), v.get("w"), v.get("b"), s(2, 1), s(1, 1, 1, 1), s(1, 1), 3)));
    cs.add(new Case("conv1d_stride2_dilation2", "Conv", "{\"strides\":[2],\"pads\":[1,2],\"dilations\":[2]}",
        shapes("x", s(3, 2, 11), "w", s(4, 2, 3), "b", s(4)), List.of("x", "w", "b"),
        v -> Ops.conv(v.get("x"), v.get("w"), v.get("b"), s(2), s(1, 2), s(2), 1)));
    cs.add(new Case("batchnorm_training", "BatchNormalization", "{\"training_mode\":1,\"momentum\":0.9,"
        + "\"epsilon\":1e-5}", shapes("x", s(4, 3, 3, 2), "scale", s(3), "bias", s(3), "mean", s(3), "var", s(3)),
        List.of("x", "scale", "bias"), v -> Ops.batchNormTraining(v.get("x"), v.get("scale"), v.get("bias"),
            v.get("mean"), v.get("var"), 1e-5, 0.9).get(0)));
    cs.add(new Case("batchnorm_inference", "BatchNormalization", "{\"epsilon\":1e-3}",
        shapes("x", s(3, 2, 4), "scale", s(2), "bias", s(2), "mean", s(2), "var", s(2)),
        List.of("x", "scale", "bias", "mean", "var"), v -> Ops.batchNorm(v.get("x"), v.get("scale"), v.get("bias"),
            v.get("mean"), v.get("var"), 1e-3)));
    cs.add(new Case("maxpool2d_3x3_stride2_pad1", "MaxPool", "{\"kernel_shape\":[3,3],\"strides\":[2,2],"
        + "\"pads\":[1,1,1,1]}", shapes("x", s(2, 3, 7, 6)), List.of("x"),
        v -> Ops.maxPool(v.get("x"), s(3, 3), s(2, 2), s(1, 1, 1, 1))));
    cs.add(new Case("maxpool1d_dilation2", "MaxPool", "{\"kernel_shape\":[2],\"dilations\":[2]}",
        shapes("x", s(2, 2, 9)), List.of("x"), v -> Ops.maxPool(v.get("x"), Attributes.of(Ops.KERNEL_SHAPE, s(2),
            Ops.DILATIONS, s(2))).get(0)));
    for (int incl = 0; incl < 2; incl++) {
      boolean include = incl == 1;
      cs.add(new Case("avgpool2d_3x3_stride2_pads_cip" + incl, "AveragePool", "{\"kernel_shape\":[3,3],"
          + "\"strides\":[2,2],\"pads\":[1,0,1,1],\"count_include_pad\":" + incl + "}",
          shapes("x", s(2, 3, 7, 6)), List.of("x"),
          v -> Ops.averagePool(v.get("x"), s(3, 3), s(2, 2), s(1, 0, 1, 1), include)));
    }
    cs.add(new Case("maxpool2d_ceil_mode", "MaxPool", "{\"kernel_shape\":[3,3],\"strides\":[2,2],"
        + "\"pads\":[1,1,1,1],\"ceil_mode\":1}", shapes("x", s(2, 2, 6, 7)), List.of("x"),
        v -> Ops.maxPool(v.get("x"), Attributes.of(Ops.KERNEL_SHAPE, s(3, 3), Ops.STRIDES, s(2, 2))
            .with(Ops.PADS, s(1, 1, 1, 1)).with(Ops.CEIL_MODE, 1L)).get(0)));
    for (int incl = 0; incl < 2; incl++) {
      long cip = incl;
      cs.add(new Case("avgpool2d_ceil_mode_cip" + incl, "AveragePool", "{\"kernel_shape\":[3,2],"
          + "\"strides\":[2,2],\"pads\":[1,0,1,0],\"ceil_mode\":1,\"count_include_pad\":" + incl + "}",
          shapes("x", s(2, 2, 6, 7)), List.of("x"), v -> Ops.averagePool(v.get("x"), Attributes.of(Ops.KERNEL_SHAPE,
              s(3, 2), Ops.STRIDES, s(2, 2)).with(Ops.PADS, s(1, 0, 1, 0)).with(Ops.CEIL_MODE, 1L)
              .with(Ops.COUNT_INCLUDE_PAD, cip))));
    }
    return cs;
  }

  /** Inputs (float32), with positive variances, and the upstream gradient r per case. */
  private static Map<String, Tensor> feeds(Case c, long[] yShape) {
    Random rng = new Random(c.name().hashCode());
    Map<String, Tensor> f = new LinkedHashMap<>();
    c.inputs().forEach((n, shape) -> {
      Tensor t = Tensor.randn(DType.FLOAT32, rng, 1, shape);
      if (n.equals("var")) {
        double[] d = t.toDoubles();
        for (int i = 0; i < d.length; i++) {
          d[i] = Math.abs(d[i]) + 0.5;
        }
        t = new Tensor(DType.FLOAT32, shape, d).roundedToDType();
      }
      f.put(n, t);
    });
    f.put("r", Tensor.randn(DType.FLOAT32, rng, 1, yShape));
    return f;
  }

  /** One dynamic test per case; torch runs once for all of them. */
  @TestFactory
  Stream<DynamicTest> gradientsMatchTorch() throws Exception {
    List<Case> cases = cases();
    Map<String, Graph> graphs = new LinkedHashMap<>();
    Map<String, Map<String, Tensor>> allFeeds = new LinkedHashMap<>();
    Map<String, Tensor> torchIn = new LinkedHashMap<>();
    for (Case c : cases) {
      GraphBuilder g = new GraphBuilder(c.name());
      Map<String, Value> vs = new LinkedHashMap<>();
      c.inputs().forEach((n, shape) -> vs.put(n, g.input(n, TensorType.of(DType.FLOAT32, box(shape)))));
      Value y = c.body().apply(vs);
      Map<String, Tensor> f = feeds(c, y.shape().sizes());
      Value r = g.input("r", y.type());
      Value loss = Ops.reduceSum(Ops.mul(y, r), false);
      List<Value> wrt = c.wrt().stream().map(vs::get).collect(Collectors.toList());
      Map<Value, Value> grads = Autodiff.gradients(loss, wrt);
      g.output("y", y);
      for (String n : c.wrt()) {
        g.output("d_" + n, grads.get(vs.get(n)));
      }
      graphs.put(c.name(), g.build());
      allFeeds.put(c.name(), f);
      f.forEach((n, t) -> torchIn.put(c.name() + "/" + n, t));
    }
    Map<String, Tensor> torch = runTorch(cases, torchIn);
    return cases.stream().map(c -> dynamicTest(c.name(), () -> {
      try {
        check(c, graphs.get(c.name()), allFeeds.get(c.name()), torch);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("[" + c.name() + "] " + e.getMessage(), e);
      }
    }));
  }

  private static void check(Case c, Graph graph, Map<String, Tensor> feeds, Map<String, Tensor> torch) {
    byte[] bytes = OnnxEmitter.emit(graph, EmitOptions.defaults()).toByteArray();
    OnnxChecker.check(bytes);
    Map<String, Tensor> ort = OrtRunner.run(bytes, feeds);
    Map<String, Tensor> f64 = Evaluator.runFloat64(graph, feeds);
    List<String> outs = new ArrayList<>(List.of("y"));
    c.wrt().forEach(n -> outs.add("d_" + n));
    for (String o : outs) {
      Tensor ref = torch.get(c.name() + "/" + o);
      assertNotNull(ref, "torch gave no " + o);
      Tolerance.assertRelErr(ort.get(o), ref, ORT_TOL, o + " (ONNX Runtime float32 vs torch float64)");
      Tolerance.assertRelErr(f64.get(o), ref, F64_TOL, o + " (float64 evaluator vs torch float64)");
    }
  }

  private static Object[] box(long[] shape) {
    Object[] o = new Object[shape.length];
    for (int i = 0; i < shape.length; i++) {
      o[i] = shape[i];
    }
    return o;
  }

  /** Runs torch_ops.py once over every case; a missing interpreter or torch is a failure, not a skip. */
  private static Map<String, Tensor> runTorch(List<Case> cases, Map<String, Tensor> inputs) throws Exception {
    Path dir = Files.createTempDirectory("torch-ops");
    try {
      StringBuilder json = new StringBuilder("[");
      for (Case c : cases) {
        if (json.length() > 1) {
          json.append(',');
        }
        json.append("{\"name\":\"").append(c.name()).append("\",\"op\":\"").append(c.op())
            .append("\",\"attrs\":").append(c.attrsJson()).append(",\"wrt\":[")
            .append(c.wrt().stream().map(w -> "\"" + w + "\"").collect(Collectors.joining(","))).append("]}");
      }
      json.append(']');
      Path cj = dir.resolve("cases.json");
      Files.writeString(cj, json, StandardCharsets.UTF_8);
      Path in = dir.resolve("in.safetensors");
      Path out = dir.resolve("out.safetensors");
      Safetensors.write(in, inputs, Map.of());
      Path script = TorchReference.SCRIPT_DIR.resolve("torch_ops.py").toAbsolutePath();
      ProcessBuilder pb = new ProcessBuilder(TorchReference.PYTHON, script.toString(), cj.toString(), in.toString(),
          out.toString()).redirectErrorStream(true);
      Process p = pb.start();
      String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      // A guard against a hung interpreter, not a timing assertion.
      assertTrue(p.waitFor(600, TimeUnit.SECONDS), "torch_ops.py did not finish");
      assertEquals(0, p.exitValue(), TorchReference.PYTHON + " torch_ops.py failed (the PyTorch reference is "
          + "required): " + log);
      return Safetensors.read(out).tensors();
    } finally {
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : files.toList()) {
          Files.deleteIfExists(f);
        }
      } catch (IOException e) {
        // best effort cleanup of a temp dir
      }
      Files.deleteIfExists(dir);
    }
  }
}
