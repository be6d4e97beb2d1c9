package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.tests.parity.ParityFixtures;
import org.twicing.tests.parity.TorchReference;
import org.twicing.tests.support.References;

/**
 * The automatic fallback for models over protobuf's 2 GiB limit, reached through {@link ModelWriter}'s size-limit
 * seam with a small model (lm-tiny with its train_step as ONNX training_info): above the limit every initializer of
 * 1 KiB or more, training_info's optimizer state included, moves to {@code model.onnx.data}; at the limit nothing
 * does. The external-data model computes exactly what the inline one computes in ONNX Runtime, and the official
 * onnx package (its checker on the file, its external-data loader) reads back every tensor bit for bit.
 */
class ExternalDataLimitTest {
  @Test
  void modelOverTheSizeLimitMovesEveryLargeInitializerToExternalData(@TempDir Path dir) throws Exception {
    TaskModel m = Zoo.build("lm-tiny", PresetOptions.defaults());
    StateDict w = StateDict.initialize(m, 11);
    ModelProto proto = ModelArtifacts.inferenceModel(m, w, TrainingGraphs.trainStep(m, w, TrainingSpec.defaults()),
        EmitOptions.defaults());
    long bytes = rawBytes(proto);
    assertTrue(proto.getTrainingInfoCount() == 1 && proto.getTrainingInfo(0).getAlgorithm().getInitializerCount()
        == 2 * m.parameters().size(), "training_info carries AdamW's two states per parameter");

    Path atLimit = dir.resolve("at/model.onnx");
    ModelWriter.write(proto, atLimit, Long.MAX_VALUE, bytes);
    assertFalse(Files.exists(dir.resolve("at/model.onnx.data")), "a model at the limit stays inline");
    Path inline = dir.resolve("inline/model.onnx");
    ModelWriter.write(proto, inline);
    assertArrayEquals(Files.readAllBytes(inline), Files.readAllBytes(atLimit));

    Path external = dir.resolve("external/model.onnx");
    ModelWriter.write(proto, external, Long.MAX_VALUE, bytes - 1);
    Path data = dir.resolve("external/model.onnx.data");
    assertTrue(Files.isRegularFile(data), "one byte over the limit: external data");
    // What stays in the protobuf is the graphs and their Constant nodes (the causal mask...), not the weights.
    assertTrue(Files.size(external) < Files.size(inline) / 10, "the protobuf keeps the weights: "
        + Files.size(external) + " of " + Files.size(inline) + " bytes");

    ModelProto written = ModelSummary.readModel(external);
    List<TensorProto> before = tensors(proto);
    List<TensorProto> after = tensors(written);
    assertEquals(before.size(), after.size());
    byte[] file = Files.readAllBytes(data);
    int moved = 0;
    for (int i = 0; i < before.size(); i++) {
      TensorProto b = before.get(i);
      TensorProto a = after.get(i);
      assertEquals(b.getName(), a.getName());
      boolean large = b.getRawData().size() >= 1024;
      assertEquals(large, a.getDataLocation() == TensorProto.DataLocation.EXTERNAL, a.getName());
      if (large) {
        moved++;
        Map<String, String> where = new HashMap<>();
        for (StringStringEntryProto e : a.getExternalDataList()) {
          where.put(e.getKey(), e.getValue());
        }
        assertEquals("model.onnx.data", where.get("location"), a.getName());
        int offset = Integer.parseInt(where.get("offset"));
        int length = Integer.parseInt(where.get("length"));
        assertEquals(0, offset % 64, a.getName() + " offset is 64-byte aligned");
        assertArrayEquals(b.getRawData().toByteArray(), Arrays.copyOfRange(file, offset, offset + length),
            a.getName() + " bytes in model.onnx.data");
      } else {
        assertEquals(b, a);
      }
    }
    int graphTensors = proto.getGraph().getInitializerCount();
    long movedState = written.getTrainingInfo(0).getAlgorithm().getInitializerList().stream()
        .filter(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL).count();
    assertTrue(movedState > 0 && moved - movedState > 0 && movedState <= moved - graphTensors + graphTensors,
        "graph weights and training_info state both moved: " + moved + " tensors, " + movedState + " of them state");
    assertEquals(proto.getTrainingInfo(0).getUpdateBindingList(), written.getTrainingInfo(0).getUpdateBindingList());

    Tensor tokens = ParityFixtures.randomInts(new Random(12), m.classes(), 2, 16);
    try (ModelSession a = ModelSession.open(inline); ModelSession b = ModelSession.open(external)) {
      assertArrayEquals(a.runHost(Map.of("tokens", tokens)).get("logits").toDoubles(),
          b.runHost(Map.of("tokens", tokens)).get("logits").toDoubles(), 0.0, "external vs inline logits");
    }
    officialOnnxReadsTheSameTensors(inline, external, moved);
  }

  /** Every initializer of the graph, then of each training_info algorithm, in order. */
  private static List<TensorProto> tensors(ModelProto m) {
    List<TensorProto> out = new ArrayList<>(m.getGraph().getInitializerList());
    m.getTrainingInfoList().forEach(t -> out.addAll(t.getAlgorithm().getInitializerList()));
    return out;
  }

  private static long rawBytes(ModelProto m) {
    return tensors(m).stream().mapToLong(t -> t.getRawData().size()).sum();
  }

  /**
   * The onnx package checks the external model from its path, loads its external data (onnx 1.12's model loader
   * skips training_info, so those tensors go through its per-tensor loader) and compares every tensor with the
   * inline model's.
   */
  private static void officialOnnxReadsTheSameTensors(Path inline, Path external, int moved) throws Exception {
    String script = String.join("\n",
        "import os, sys",
        "try:",
        "    import numpy as np, onnx",
        "    from onnx import numpy_helper, external_data_helper as ed",
        "except ImportError as e:",
        "    print('no onnx: %s' % e)",
        "    sys.exit(3)",
        "onnx.checker.check_model(sys.argv[2])",
        "def tensors(m):",
        "    out = list(m.graph.initializer)",
        "    for ti in m.training_info:",
        "        out.extend(ti.algorithm.initializer)",
        "    return out",
        "a = tensors(onnx.load(sys.argv[1]))",
        "ext = onnx.load(sys.argv[2])",
        "b = tensors(ext)",
        "assert len(a) == len(b), (len(a), len(b))",
        "loaded = 0",
        "for ta, tb in zip(a, b):",
        "    if ed.uses_external_data(tb):",
        "        ed.load_external_data_for_tensor(tb, os.path.dirname(sys.argv[2]))",
        "        tb.data_location = onnx.TensorProto.DEFAULT  # as onnx.load does after loading",
        "        del tb.external_data[:]",
        "        loaded += 1",
        "    x, y = numpy_helper.to_array(ta), numpy_helper.to_array(tb)",
        "    assert ta.name == tb.name and x.dtype == y.dtype and np.array_equal(x, y), ta.name",
        "print('equal %d tensors; training_info tensors loaded one by one: %d' % (len(a), loaded))",
        "");
    Path python = Path.of(TorchReference.PYTHON);
    References.assume(Files.isExecutable(python), () -> "no " + python);
    Process p = new ProcessBuilder(python.toString(), "-c", script, inline.toString(), external.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "python did not finish");
    References.assume(p.exitValue() != 3, () -> "/usr/bin/python3 cannot import onnx: " + out);
    assertEquals(0, p.exitValue(), "the onnx package disagrees with the external-data model:\n" + out);
    System.out.print("[external-data] " + out);
    assertTrue(out.contains("training_info tensors loaded one by one: ") && !out.contains("one by one: 0\n"), out);
  }
}
