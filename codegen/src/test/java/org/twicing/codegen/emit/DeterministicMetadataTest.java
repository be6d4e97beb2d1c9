package org.twicing.codegen.emit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Emitted metadata comes out in one order, whatever order it was given in, so identical emits and training runs
 * in different JVMs give byte-identical files (an unordered map's iteration order changes from JVM to JVM).
 */
class DeterministicMetadataTest {
  @Test
  void metadataIsWrittenInSortedKeyOrderWhateverTheInsertionOrder() {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      keys.add("twicing.key" + (char) ('a' + i % 26) + i);
    }
    List<String> sorted = keys.stream().sorted().toList();
    GraphBuilder g = new GraphBuilder("meta");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, 2));
    g.output("y", Ops.add(x, g.parameter("w", Tensor.zeros(DType.FLOAT32, 2))));
    var graph = g.build();
    byte[] first = null;
    for (long seed = 0; seed < 3; seed++) {
      List<String> shuffled = new ArrayList<>(keys);
      Collections.shuffle(shuffled, new Random(seed));
      EmitOptions.Builder b = EmitOptions.builder();
      shuffled.forEach(k -> b.metadata(k, "v" + k));
      assertEquals(sorted, List.copyOf(b.build().metadata().keySet()));
      ModelProto m = OnnxEmitter.emit(graph, b.build());
      List<String> written = m.getMetadataPropsList().stream().map(StringStringEntryProto::getKey)
          .filter(k -> k.startsWith("twicing.key")).toList();
      assertEquals(sorted, written);
      byte[] bytes = m.toByteArray();
      if (first == null) {
        first = bytes;
      } else {
        assertArrayEquals(first, bytes);
      }
    }
  }
}
