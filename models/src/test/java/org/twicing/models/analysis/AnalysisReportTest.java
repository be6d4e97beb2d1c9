package org.twicing.models.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** analysis.json: the header first, then the fields StudyResults and users read; non-finite numbers as null. */
class AnalysisReportTest {
  private static final AnalysisReport REPORT = new AnalysisReport(64, Double.NaN,
      List.of(new AnalysisReport.Noise(0.5, 0.25)),
      List.of(new AnalysisReport.Attack("pgd", 0.3, 3, 0.075, 0.125)),
      List.of(new AnalysisReport.Similarity(1, "blocks.0", 0.5)));

  @Test
  void fieldsKeepTheirNamesOrderAndValues() {
    Map<String, Object> header = new LinkedHashMap<>();
    header.put("run", "runs/a \"quoted\" <dir>");
    header.put("step", 30L);
    String json = REPORT.toJson(header);
    JsonObject o = JsonParser.parseString(json).getAsJsonObject();
    assertEquals(List.of("run", "step", "examples", "clean_accuracy", "noise", "attacks", "oversmoothing"),
        List.copyOf(o.keySet()));
    assertEquals("runs/a \"quoted\" <dir>", o.get("run").getAsString());
    assertTrue(json.contains("<dir>"), "no HTML escaping, as before: " + json);
    assertEquals(30, o.get("step").getAsLong());
    assertEquals(64, o.get("examples").getAsInt());
    assertTrue(o.get("clean_accuracy").isJsonNull(), json);
    JsonObject attack = o.getAsJsonArray("attacks").get(0).getAsJsonObject();
    assertEquals(List.of("kind", "epsilon", "steps", "alpha", "accuracy"), List.copyOf(attack.keySet()));
    assertEquals("pgd", attack.get("kind").getAsString());
    assertEquals(3, attack.get("steps").getAsInt());
    assertEquals(0.075, attack.get("alpha").getAsDouble());
    assertEquals(0.25, o.getAsJsonArray("noise").get(0).getAsJsonObject().get("accuracy").getAsDouble());
    JsonObject sim = o.getAsJsonArray("oversmoothing").get(0).getAsJsonObject();
    assertEquals("blocks.0", sim.get("block").getAsString());
    assertEquals(1, sim.get("depth").getAsInt());
    assertTrue(json.endsWith("}\n"), json);
  }

  @Test
  void aHeaderValueThatIsNeitherStringNorNumberIsAnErrorNamingIt() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> REPORT.toJson(Map.of("flags", List.of("a"))));
    assertTrue(e.getMessage().contains("'flags'"), e.getMessage());
  }
}
