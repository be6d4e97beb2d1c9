package org.twicing.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reopening a metrics log on resume: a torn last line may go, a damaged line elsewhere is an error, never a cut. */
class MetricsLogTest {
  @TempDir
  Path tmp;

  private static String lines(int from, int to) {
    StringBuilder sb = new StringBuilder();
    for (int s = from; s <= to; s++) {
      sb.append("{\"step\":").append(s).append(",\"loss\":").append(1.0 / s).append("}\n");
    }
    return sb.toString();
  }

  @Test
  void aTornLastLineIsDroppedAndTheRestKept() throws IOException {
    Path f = tmp.resolve(MetricsLog.FILE_NAME);
    Files.writeString(f, lines(1, 5) + "{\"step\":6,\"lo", StandardCharsets.UTF_8);
    try (MetricsLog log = MetricsLog.open(f, 5)) {
      log.append(Map.of("step", 6L));
    }
    List<Map<String, Double>> read = MetricsLog.read(f);
    assertEquals(6, read.size());
    for (int i = 0; i < 6; i++) {
      assertEquals(i + 1, read.get(i).get("step"));
    }
  }

  @Test
  void aBadLineInTheMiddleIsAnErrorNamingFileAndLineAndChangesNothing() throws IOException {
    Path f = tmp.resolve(MetricsLog.FILE_NAME);
    String content = lines(1, 3) + "{\"step\":4,\"loss\":oops}\n" + lines(5, 8);
    Files.writeString(f, content, StandardCharsets.UTF_8);
    IOException e = assertThrows(IOException.class, () -> MetricsLog.open(f, 8));
    assertTrue(e.getMessage().startsWith(f + ": line 4: "), e.getMessage());
    assertTrue(e.getMessage().contains("oops"), e.getMessage());
    assertEquals(content, Files.readString(f, StandardCharsets.UTF_8));
  }

  @Test
  void resumingEarlierKeepsTheLinesUpToTheCheckpointStep() throws IOException {
    Path f = tmp.resolve(MetricsLog.FILE_NAME);
    Files.writeString(f, lines(1, 9), StandardCharsets.UTF_8);
    MetricsLog.open(f, 4).close();
    assertEquals(lines(1, 4), Files.readString(f, StandardCharsets.UTF_8));
  }

  @Test
  void aLineWrittenByEarlierVersionsReadsAndIsWrittenBackByteForByte() {
    // The exact text the hand-written writer produced before Gson: integers bare, doubles via Double.toString.
    String old = "{\"step\":12,\"epoch\":0,\"loss\":2.3025850929940455,\"lr\":1.0E-4,\"samples_per_s\":512.5,"
        + "\"eval_accuracy\":null}";
    MetricsLine line = MetricsLine.parse(old);
    assertEquals(12L, line.values().get("step"));
    assertEquals(1.0e-4, line.get("lr"));
    assertTrue(Double.isNaN(line.get("eval_accuracy")));
    assertTrue(Double.isNaN(line.get("absent")));
    assertEquals(old, line.toJson());
  }

  @Test
  void nonFiniteValuesAreWrittenAsNullAndKeysAreEscaped() {
    Map<String, Number> m = new LinkedHashMap<>();
    m.put("step", 3L);
    m.put("loss", Double.POSITIVE_INFINITY);
    m.put("lr", 0.5f);
    m.put("a\"b", 1.5);
    String json = MetricsLine.of(m).toJson();
    assertEquals("{\"step\":3,\"loss\":null,\"lr\":0.5,\"a\\\"b\":1.5}", json);
    assertEquals(1.5, MetricsLine.parse(json).get("a\"b"));
  }

  @Test
  void aValueThatIsNotANumberIsAnErrorNamingTheKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> MetricsLine.parse("{\"step\":1,\"loss\":\"x\"}"));
    assertTrue(e.getMessage().contains("\"loss\""), e.getMessage());
  }
}
