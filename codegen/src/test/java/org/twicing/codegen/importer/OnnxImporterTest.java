package org.twicing.codegen.importer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.codegen.importer.Protos.floats;
import static org.twicing.codegen.importer.Protos.info;
import static org.twicing.codegen.importer.Protos.integer;
import static org.twicing.codegen.importer.Protos.ints;
import static org.twicing.codegen.importer.Protos.longs;
import static org.twicing.codegen.importer.Protos.model;
import static org.twicing.codegen.importer.Protos.node;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;

/** Hand-built ONNX models of each opset form, imported and evaluated against plain-Java arithmetic. */
class OnnxImporterTest {
  private static final int F32 = 1;
  /** x = [[1, 2, 3], [4, 5, 6]]. */
  private static final Tensor X = new Tensor(DType.FLOAT32, new long[] {2, 3}, new double[] {1, 2, 3, 4, 5, 6});

  private static Map<String, Tensor> run(ModelProto m) {
    return Evaluator.run(OnnxImporter.fromProto(m, null).graph(), Map.of("x", X));
  }

  private static ModelProto unary(long opset, List<NodeProto> nodes, List<TensorProto> inits, String... outs) {
    return model(opset, nodes, List.of(info("x", F32, "batch", 3L)),
        Arrays.stream(outs).map(o -> info(o, F32)).toList(), inits);
  }

  /** Row means of X computed directly. */
  private static double[] rowMeans() {
    double[] m = new double[2];
    for (int r = 0; r < 2; r++) {
      for (int c = 0; c < 3; c++) {
        m[r] += X.get(r * 3 + c) / 3;
      }
    }
    return m;
  }

  @Test
  void reduceMeanAxesAsAttributeBeforeOpset18AndAsInputFrom18() {
    Map<String, Tensor> attr = run(unary(17, List.of(node("ReduceMean", "m", List.of("x"), List.of("y"),
        ints("axes", 1), integer("keepdims", 0))), List.of(), "y"));
    Map<String, Tensor> input = run(unary(18, List.of(node("ReduceMean", "m", List.of("x", "ax"), List.of("y"),
        integer("keepdims", 0))), List.of(longs("ax", new long[] {1}, 1)), "y"));
    assertArrayEquals(rowMeans(), attr.get("y").toDoubles(), 1e-6);
    assertArrayEquals(rowMeans(), input.get("y").toDoubles(), 1e-6);
    assertArrayEquals(new long[] {2}, input.get("y").shape());
  }

  @Test
  void reduceSumAxesAsInputOrAttributeAndNoopWithEmptyAxes() {
    double[] colSums = new double[3];
    for (int i = 0; i < 6; i++) {
      colSums[i % 3] += X.get(i);
    }
    Map<String, Tensor> input = run(unary(13, List.of(node("ReduceSum", "s", List.of("x", "ax"), List.of("y"))),
        List.of(longs("ax", new long[] {1}, 0)), "y"));
    Map<String, Tensor> attr = run(unary(13, List.of(node("ReduceSum", "s", List.of("x"), List.of("y"),
        ints("axes", 0))), List.of(), "y"));
    assertArrayEquals(colSums, input.get("y").toDoubles(), 1e-6);
    assertArrayEquals(new long[] {1, 3}, input.get("y").shape());
    assertArrayEquals(colSums, attr.get("y").toDoubles(), 1e-6);
    Map<String, Tensor> noop = run(unary(13, List.of(node("ReduceSum", "s", List.of("x"), List.of("y"),
        integer("noop_with_empty_axes", 1))), List.of(), "y"));
    assertArrayEquals(X.toDoubles(), noop.get("y").toDoubles(), 0);
  }

  @Test
  void unsqueezeAndSqueezeAxesAsInputOrAttribute() {
    for (boolean asInput : new boolean[] {true, false}) {
      List<NodeProto> nodes = asInput
          ? List.of(node("Unsqueeze", "u", List.of("x", "ax"), List.of("u")),
              node("Squeeze", "s", List.of("u", "ax"), List.of("y")))
          : List.of(node("Unsqueeze", "u", List.of("x"), List.of("u"), ints("axes", 0)),
              node("Squeeze", "s", List.of("u"), List.of("y"), ints("axes", 0)));
      Graph g = OnnxImporter.fromProto(unary(asInput ? 13 : 21, nodes,
          List.of(longs("ax", new long[] {1}, 0)), "u", "y"), null).graph();
      assertEquals(List.of(Dim.of(1), Dim.sym("batch"), Dim.of(3)), g.outputs().get("u").shape().dims());
      Map<String, Tensor> out = Evaluator.run(g, Map.of("x", X));
      assertArrayEquals(new long[] {1, 2, 3}, out.get("u").shape());
      assertArrayEquals(X.toDoubles(), out.get("y").toDoubles(), 0);
      assertArrayEquals(X.shape(), out.get("y").shape());
    }
  }

  @Test
  void splitBySizesInputOrIntoEqualPartsByNumOutputs() {
    Map<String, Tensor> sizes = run(unary(13, List.of(node("Split", "sp", List.of("x", "sz"), List.of("a", "b"),
        integer("axis", 1))), List.of(longs("sz", new long[] {2}, 1, 2)), "a", "b"));
    assertArrayEquals(new double[] {X.get(0), X.get(3)}, sizes.get("a").toDoubles(), 0);
    assertArrayEquals(new double[] {X.get(1), X.get(2), X.get(4), X.get(5)}, sizes.get("b").toDoubles(), 0);
    Map<String, Tensor> parts = run(unary(18, List.of(node("Split", "sp", List.of("x"), List.of("a", "b", "c"),
        integer("axis", 1), integer("num_outputs", 3))), List.of(), "a", "b", "c"));
    for (int k = 0; k < 3; k++) {
      assertArrayEquals(new double[] {X.get(k), X.get(3 + k)}, parts.get(String.valueOf((char) ('a' + k)))
          .toDoubles(), 0);
    }
  }

  @Test
  void sliceAndPadTakeTheirInputs() {
    // Slice columns 1..3 then pad one zero column on the left (opset 18 axes input) and check element by element.
    Map<String, Tensor> out = run(unary(18, List.of(
        node("Slice", "sl", List.of("x", "st", "en", "axs"), List.of("s")),
        node("Pad", "p", List.of("s", "pads", "", "paxes"), List.of("y"))),
        List.of(longs("st", new long[] {1}, 1), longs("en", new long[] {1}, 3), longs("axs", new long[] {1}, 1),
            longs("pads", new long[] {2}, 1, 0), longs("paxes", new long[] {1}, 1)), "y"));
    Tensor y = out.get("y");
    assertArrayEquals(new long[] {2, 3}, y.shape());
    for (int r = 0; r < 2; r++) {
      assertEquals(0.0, y.get(r * 3));
      assertEquals(X.get(r * 3 + 1), y.get(r * 3 + 1));
      assertEquals(X.get(r * 3 + 2), y.get(r * 3 + 2));
    }
  }

  @Test
  void constantNodesInEveryValueForm() {
    List<NodeProto> nodes = List.of(
        node("Constant", "c1", List.of(), List.of("k1"), Protos.real("value_float", 0.5f)),
        node("Constant", "c2", List.of(), List.of("k2"), Protos.reals("value_floats", 1f, 2f, 3f)),
        node("Constant", "c3", List.of(), List.of("k3"), Protos.tensor("value",
            floats("", new long[] {2, 1}, 10f, 20f))),
        node("Constant", "c4", List.of(), List.of("k4"), integer("value_int", 3)),
        node("Constant", "c5", List.of(), List.of("k5"), ints("value_ints", 2, 3)),
        node("Mul", "m", List.of("x", "k1"), List.of("a")),
        node("Add", "b", List.of("a", "k2"), List.of("b")),
        node("Add", "c", List.of("b", "k3"), List.of("c")),
        node("Cast", "cast", List.of("k4"), List.of("k4f"), integer("to", 1)),
        node("Mul", "d", List.of("c", "k4f"), List.of("d")),
        node("Reshape", "r", List.of("d", "k5"), List.of("y")));
    Tensor y = run(unary(17, nodes, List.of(), "y")).get("y");
    assertArrayEquals(new long[] {2, 3}, y.shape());
    double[] col = {10, 20};
    for (int i = 0; i < 6; i++) {
      assertEquals((X.get(i) * 0.5 + (i % 3 + 1) + col[i / 3]) * 3, y.get(i), 1e-6);
    }
  }

  @Test
  void productDimParamsImportAsProductsAndEmitCanonically() {
    // A foreign model may write the product in any order; it is the same dim as flattening [batch, 7, 7] gives.
    ModelProto m = model(17, List.of(node("Relu", "relu", List.of("x"), List.of("y"))),
        List.of(info("x", F32, "49*batch", 3L)), List.of(info("y", F32)), List.of());
    Graph g = OnnxImporter.fromProto(m, null).graph();
    Dim rows = Dim.sym("batch").times(Dim.of(7)).times(Dim.of(7));
    assertEquals(List.of(rows, Dim.of(3)), g.inputs().get(0).shape().dims());
    ModelProto again = OnnxEmitter.emit(g, EmitOptions.builder().build());
    TensorShapeProto shape = again.getGraph().getInput(0).getType().getTensorType().getShape();
    assertEquals("batch*49", shape.getDim(0).getDimParam());
    assertEquals(List.of(rows, Dim.of(3)),
        OnnxImporter.fromProto(again, null).graph().inputs().get(0).shape().dims());
  }

  @Test
  void inputsKeepSymbolicDimsAndParametersAndOutputsKeepTheirNames() {
    ModelProto m = unary(17, List.of(node("MatMul", "/fc/MatMul", List.of("x", "fc.weight"), List.of("h")),
        node("Add", "/fc/Add", List.of("h", "fc.bias"), List.of("logits"))),
        List.of(floats("fc.weight", new long[] {3, 2}, 1, 2, 3, 4, 5, 6), floats("fc.bias", new long[] {2}, -1, 1),
            floats("unused", new long[] {1}, 7)), "logits");
    ImportedModel im = OnnxImporter.fromProto(m, null);
    Graph g = im.graph();
    assertEquals(17, im.opset());
    assertEquals("handmade 1", im.producer());
    assertEquals(List.of(Dim.sym("batch"), Dim.of(3)), g.inputs().get(0).shape().dims());
    assertEquals(List.of("fc.weight", "fc.bias"), g.parameters().keySet().stream().map(Value::name).toList());
    Value out = g.outputs().get("logits");
    assertEquals("logits", out.name());
    assertEquals("/fc/Add", out.producer().name());
    Tensor y = Evaluator.run(g, Map.of("x", X)).get("logits");
    double[] w = {1, 2, 3, 4, 5, 6};
    double[] b = {-1, 1};
    for (int r = 0; r < 2; r++) {
      for (int c = 0; c < 2; c++) {
        double s = b[c];
        for (int k = 0; k < 3; k++) {
          s += X.get(r * 3 + k) * w[k * 2 + c];
        }
        assertEquals(s, y.get(r * 2 + c), 1e-6);
      }
    }
  }

  @Test
  void integerInitializersAndShapeInputsBecomeConstants() {
    // A float initializer read as Reshape's shape would be invalid ONNX; a Clip bound or Pad value is legal and
    // must stay a constant, never a trainable parameter.
    ModelProto m = unary(17, List.of(node("Reshape", "r", List.of("x", "shape"), List.of("y")),
        node("Pad", "p", List.of("y", "pads", "fill"), List.of("z"))),
        List.of(longs("shape", new long[] {2}, 0, 3), longs("pads", new long[] {4}, 0, 1, 0, 1),
            floats("fill", new long[] {}, 9f)), "z");
    Graph g = OnnxImporter.fromProto(m, null).graph();
    assertTrue(g.parameters().isEmpty(), "parameters: " + g.parameters().keySet());
    Tensor z = Evaluator.run(g, Map.of("x", X)).get("z");
    assertArrayEquals(new long[] {2, 5}, z.shape());
    for (int r = 0; r < 2; r++) {
      assertEquals(9.0, z.get(r * 5));
      assertEquals(9.0, z.get(r * 5 + 4));
      assertArrayEquals(Arrays.copyOfRange(X.toDoubles(), r * 3, r * 3 + 3),
          Arrays.copyOfRange(z.toDoubles(), r * 5 + 1, r * 5 + 4), 0);
    }
  }

  @Test
  void externalDataIsReadRelativeToTheModelFile(@TempDir Path dir) throws IOException {
    float[] w = {0.25f, -1.5f, 3f, 8f, -0.125f, 2f};
    ByteBuffer raw = ByteBuffer.allocate(64 + w.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    raw.position(64);
    for (float v : w) {
      raw.putFloat(v);
    }
    Files.createDirectories(dir.resolve("weights"));
    Files.write(dir.resolve("weights/w.bin"), raw.array());
    TensorProto ext = TensorProto.newBuilder().setName("w").setDataType(1).addDims(3).addDims(2)
        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
        .addExternalData(OnnxEmitter.entry("location", "weights/w.bin"))
        .addExternalData(OnnxEmitter.entry("offset", "64"))
        .addExternalData(OnnxEmitter.entry("length", "24")).build();
    ModelProto m = unary(17, List.of(node("MatMul", "mm", List.of("x", "w"), List.of("y"))), List.of(ext), "y");
    Path file = dir.resolve("m.onnx");
    Files.write(file, m.toByteArray());
    Graph g = OnnxImporter.read(file).graph();
    double[] expected = new double[6];
    for (int i = 0; i < 6; i++) {
      expected[i] = w[i];
    }
    assertArrayEquals(expected, g.parameters().values().iterator().next().toDoubles(), 0);
    Files.write(dir.resolve("weights/w.bin"), new byte[40]);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxImporter.read(file));
    assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("w.bin"), e.getMessage());
  }

  @Test
  void unsupportedOpsAreListedOnceWithCountFirstNodeOpsetAndProducer() {
    NodeProto foreign = node("FusedGemm", "fg0", List.of("x"), List.of("f")).toBuilder()
        .setDomain("com.microsoft").build();
    ModelProto m = unary(17, List.of(
        node("Relu", "r0", List.of("x"), List.of("a")),
        node("Hardmax", "hm0", List.of("a"), List.of("b")),
        node("Hardmax", "hm1", List.of("b"), List.of("c")),
        node("LpNormalization", "lp0", List.of("c"), List.of("d")),
        foreign), List.of(), "d", "f");
    m = m.toBuilder().addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("com.microsoft").setVersion(1))
        .build();
    ModelProto fm = m;
    UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
        () -> OnnxImporter.fromProto(fm, null));
    assertEquals(3, e.unsupportedOps().size(), e.getMessage());
    assertEquals(new UnsupportedModelException.OpUsage("", "Hardmax", 2, "hm0"), e.unsupportedOps().get(0));
    assertEquals(new UnsupportedModelException.OpUsage("", "LpNormalization", 1, "lp0"), e.unsupportedOps().get(1));
    assertEquals(new UnsupportedModelException.OpUsage("com.microsoft", "FusedGemm", 1, "fg0"),
        e.unsupportedOps().get(2));
    String msg = e.getMessage();
    assertTrue(msg.contains("Hardmax ×2 (first node 'hm0')") && msg.contains("LpNormalization ×1")
        && msg.contains("com.microsoft.FusedGemm") && msg.contains("opset 17") && msg.contains("handmade 1"), msg);
  }

  @Test
  void opsetsOutsideThirteenToTwentyOneAreRefusedByNumber() {
    ModelProto m = unary(11, List.of(node("Relu", "r", List.of("x"), List.of("y"))), List.of(), "y");
    UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
        () -> OnnxImporter.fromProto(m, null));
    assertTrue(e.getMessage().contains("opset 11") && e.getMessage().contains("13 to 21"), e.getMessage());
  }

  @Test
  void tensorProtosRoundTripEveryStorageForm() {
    Tensor t = new Tensor(DType.INT32, new long[] {3}, new double[] {-2, 0, 7});
    assertArrayEquals(t.toDoubles(), TensorProtos.toTensor(TensorProtos.fromTensor("t", t), null).toDoubles(), 0);
    TensorProto typed = TensorProto.newBuilder().setDataType(11).addDims(2).addDoubleData(0.1).addDoubleData(-3)
        .build();
    assertArrayEquals(new double[] {0.1, -3}, TensorProtos.toTensor(typed, null).toDoubles(), 0);
    TensorProto bad = TensorProto.newBuilder().setName("short").setDataType(1).addDims(4)
        .setRawData(ByteString.copyFrom(new byte[8])).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TensorProtos.toTensor(bad, null));
    assertTrue(e.getMessage().contains("'short'") && e.getMessage().contains("16"), e.getMessage());
  }

  @Test
  void dropoutWithARatioInputIsTheIdentityOfInferenceAndItsMaskCannotBeRead() {
    List<TensorProto> inits = List.of(floats("ratio", new long[] {}, 0.3f));
    Map<String, Tensor> out = run(unary(13, List.of(node("Dropout", "d", List.of("x", "ratio"), List.of("y", ""))),
        inits, "y"));
    assertArrayEquals(X.toDoubles(), out.get("y").toDoubles(), 0);
    ModelProto masked = unary(13, List.of(node("Dropout", "d", List.of("x", "ratio"), List.of("y", "mask")),
        node("Cast", "c", List.of("mask"), List.of("m"), integer("to", 1)),
        node("Add", "a", List.of("y", "m"), List.of("z"))), inits, "z");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OnnxImporter.fromProto(masked, null));
    assertTrue(e.getMessage().contains("Dropout node 'd'") && e.getMessage().contains("'mask'"), e.getMessage());
    // The ratio is an attribute-like input: it must not become a trainable parameter.
    assertTrue(OnnxImporter.fromProto(unary(13, List.of(node("Dropout", "d", List.of("x", "ratio"),
        List.of("y"))), inits, "y"), null).graph().parameters().isEmpty());
  }

  @Test
  void layerNormalizationOfOpset17KeepsOnlyItsFirstOutput() {
    List<TensorProto> inits = List.of(floats("s", new long[] {3}, 1, 2, 3), floats("b", new long[] {3}, 0, 0, 1));
    Map<String, Tensor> out = run(unary(17, List.of(node("LayerNormalization", "ln", List.of("x", "s", "b"),
        List.of("y", "mean", "inv"), Protos.real("epsilon", 1e-5f))), inits, "y"));
    for (int r = 0; r < 2; r++) {
      double mean = 0;
      double var = 0;
      for (int c = 0; c < 3; c++) {
        mean += X.get(r * 3 + c) / 3;
      }
      for (int c = 0; c < 3; c++) {
        var += Math.pow(X.get(r * 3 + c) - mean, 2) / 3;
      }
      for (int c = 0; c < 3; c++) {
        double expected = (X.get(r * 3 + c) - mean) / Math.sqrt(var + 1e-5) * (c + 1) + (c == 2 ? 1 : 0);
        assertEquals(expected, out.get("y").get(r * 3 + c), 1e-5);
      }
    }
    ModelProto usesMean = unary(17, List.of(node("LayerNormalization", "ln", List.of("x", "s", "b"),
        List.of("y", "mean"))), inits, "y", "mean");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OnnxImporter.fromProto(usesMean, null));
    assertTrue(e.getMessage().contains("output 1 'mean'"), e.getMessage());
  }

  @Test
  void unnamedDimsGetSymbolsAndInitializersListedAsInputsAreWeights() {
    ModelProto m = model(13, List.of(node("Add", "a", List.of("x", "w"), List.of("y"))),
        List.of(info("x", F32, "batch", 3L).toBuilder().setType(info("x", F32, "batch", 3L).getType().toBuilder()
            .setTensorType(info("x", F32, "batch", 3L).getType().getTensorType().toBuilder().setShape(
                TensorShapeProto.newBuilder()
                    .addDim(TensorShapeProto.Dimension.newBuilder())
                    .addDim(TensorShapeProto.Dimension.newBuilder()
                        .setDimValue(3))))).build(),
            info("w", F32, 3L)),
        List.of(info("y", F32)), List.of(floats("w", new long[] {3}, 1, 1, 1)));
    Graph g = OnnxImporter.fromProto(m, null).graph();
    assertEquals(1, g.inputs().size());
    assertEquals(List.of(Dim.sym("x_dim0"), Dim.of(3)), g.inputs().get(0).shape().dims());
    assertEquals(List.of("w"), g.parameters().keySet().stream().map(Value::name).toList());
  }

  @Test
  void nodesOutOfOrderAreSortedAndCastDropsSaturate() {
    ModelProto m = unary(19, List.of(
        node("Cast", "c", List.of("r"), List.of("y"), integer("to", 1), integer("saturate", 1)),
        node("Relu", "r", List.of("x"), List.of("r"))), List.of(), "y");
    Tensor y = run(m).get("y");
    for (int i = 0; i < 6; i++) {
      assertEquals(Math.max(0, X.get(i)), y.get(i));
    }
  }

  @Test
  void runTimeShapeArithmeticOnTheBatchSizeGivesStaticTypes() {
    // flatten(1) written as Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])), and w.expand(B, -1) written
    // as Expand(w, Where(Equal(s, -1), 1, s)) with s = Concat([B], [-1]): torch.onnx.export's forms.
    ModelProto m = model(17, List.of(
        node("Shape", "shape", List.of("x"), List.of("s")),
        node("Gather", "g", List.of("s", "zero"), List.of("b"), integer("axis", 0)),
        node("Unsqueeze", "u", List.of("b", "zeroAxes"), List.of("b1")),
        node("Concat", "c", List.of("b1", "minusOne"), List.of("target"), integer("axis", 0)),
        node("Reshape", "r", List.of("x", "target"), List.of("flat")),
        node("Equal", "eq", List.of("target", "minusOnes"), List.of("isMinus")),
        node("Where", "wh", List.of("isMinus", "ones", "target"), List.of("expandTo")),
        node("Expand", "e", List.of("w", "expandTo"), List.of("wide")),
        node("Add", "a", List.of("flat", "wide"), List.of("y"))),
        List.of(info("x", F32, "batch", 2L, 3L)), List.of(info("y", F32)),
        List.of(longs("zero", new long[] {}, 0), longs("zeroAxes", new long[] {1}, 0),
            longs("minusOne", new long[] {1}, -1), longs("minusOnes", new long[] {2}, -1, -1),
            longs("ones", new long[] {2}, 1, 1), floats("w", new long[] {1, 6}, 1, 2, 3, 4, 5, 6)));
    Graph g = OnnxImporter.fromProto(m, null).graph();
    assertEquals(List.of(Dim.sym("batch"), Dim.of(6)), g.outputs().get("y").shape().dims());
    Tensor x = new Tensor(DType.FLOAT32, new long[] {2, 2, 3}, new double[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    Tensor y = Evaluator.run(g, Map.of("x", x)).get("y");
    assertArrayEquals(new long[] {2, 6}, y.shape());
    for (int i = 0; i < 12; i++) {
      assertEquals(x.get(i) + (i % 6 + 1), y.get(i));
    }
  }
}
