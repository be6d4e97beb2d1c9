package org.twicing.models.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.cli.TwicingCli;

/** The presets' shapes and defaults, per-layer attention overrides, and loading weights by name. */
class ZooTest {
  private static List<String> kinds(TaskModel m) {
    return m.attentionKinds().stream().map(AttentionKind::name).toList();
  }

  @Test
  void presetsHaveThePapersLayouts() {
    TaskModel deit = Zoo.build("vit-tiny", PresetOptions.defaults());
    // DeiT-Tiny has 5,717,416 parameters (timm's deit_tiny_patch16_224).
    assertEquals(5_717_416L, deit.parameterCount());
    assertEquals(List.of("twicing"), kinds(deit).stream().distinct().toList());
    TaskModel lm = Zoo.build("lm-paper", PresetOptions.defaults().withVocab(1000));
    List<String> k = kinds(lm);
    assertEquals(16, k.size());
    assertEquals("twicing", k.get(14));
    assertEquals("twicing", k.get(15));
    assertEquals(14, k.subList(0, 14).stream().filter("softmax"::equals).count());
    assertEquals("post", lm.config().get("norm"));
    assertEquals("sinusoidal", lm.config().get("positions"));
    TaskModel tiny = Zoo.build("lm-tiny", PresetOptions.defaults());
    assertEquals(List.of("softmax", "softmax", "twicing", "twicing"), kinds(tiny));
    assertTrue(tiny.parameters().stream().noneMatch(p -> p.name().contains("lm_head")), "output is tied");
  }

  @Test
  void attentionOverrides() {
    assertEquals(List.of("softmax", "softmax", "softmax", "softmax"),
        kinds(Zoo.build("lm-tiny", PresetOptions.defaults().withAttention("softmax"))));
    assertEquals(List.of("twicing", "softmax", "twicing", "softmax"),
        kinds(Zoo.build("lm-tiny", PresetOptions.defaults().withTwicingLayers("0,2"))));
    assertEquals(List.of("softmax", "softmax", "softmax", "twicing3"),
        kinds(Zoo.build("lm-tiny", PresetOptions.defaults().withAttention("twicing3").withTwicingLayers("last:1"))));
    assertEquals(List.of("twicing", "twicing", "twicing", "twicing"),
        kinds(Zoo.build("lm-tiny", PresetOptions.defaults().withTwicingLayers("all"))));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Zoo.build("lm-tiny", PresetOptions.defaults().withTwicingLayers("7")));
    assertTrue(e.getMessage().contains("out of range 0..3"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Zoo.build("vit-huge", PresetOptions.defaults()));
    assertTrue(e.getMessage().contains("vit-huge") && e.getMessage().contains("vit-fmnist"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Zoo.build("lm-tiny", PresetOptions.defaults().withAttention("cosine")));
    assertTrue(e.getMessage().contains("cosine"), e.getMessage());
  }

  @Test
  void sameSeedSameWeights() {
    TaskModel m = Zoo.build("vit-fmnist", PresetOptions.defaults());
    StateDict a = StateDict.initialize(m, 7);
    StateDict b = StateDict.initialize(Zoo.build("vit-fmnist", PresetOptions.defaults().withAttention("softmax")), 7);
    StateDict c = StateDict.initialize(m, 8);
    for (String name : a.asMap().keySet()) {
      assertArrayEquals(a.get(name).toDoubles(), b.get(name).toDoubles(), name);
    }
    assertTrue(!Arrays.equals(a.get("blocks.0.attn.qkv.weight").toDoubles(),
        c.get("blocks.0.attn.qkv.weight").toDoubles()));
  }

  @Test
  void weightsLoadByNameAndBadFilesNameTheTensor(@TempDir Path dir) throws Exception {
    TaskModel m = Zoo.build("lm-tiny", PresetOptions.defaults());
    Map<String, Tensor> w = new LinkedHashMap<>(StateDict.initialize(m, 3).asMap());
    Path good = dir.resolve("good.safetensors");
    Safetensors.write(good, w, Map.of());
    Path out = dir.resolve("out");
    assertEquals(0, TwicingCli.run("emit", "--model", "lm-tiny", "--weights", good.toString(), "--inference-only",
        "--out", out.toString()));
    assertTrue(Files.size(out.resolve("model.onnx")) > 4 * m.parameterCount());

    Map<String, Tensor> bad = new LinkedHashMap<>(w);
    bad.remove("transformer.ln_f.bias");
    bad.put("lm_head.weight", Tensor.zeros(DType.FLOAT32, 256, 128));
    bad.put("transformer.wpe.weight", Tensor.randn(DType.FLOAT32, new Random(0), 1, 64, 128));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> StateDict.load(m, bad, "bad.safetensors"));
    String msg = e.getMessage();
    assertTrue(msg.contains("bad.safetensors"), msg);
    assertTrue(msg.contains("missing tensor 'transformer.ln_f.bias'"), msg);
    assertTrue(msg.contains("unknown tensor 'lm_head.weight'"), msg);
    assertTrue(msg.contains("'transformer.wpe.weight' has shape [64, 128], expected [128, 128]"), msg);
    Path badFile = dir.resolve("bad.safetensors");
    Safetensors.write(badFile, bad, Map.of());
    assertEquals(1, TwicingCli.run("emit", "--model", "lm-tiny", "--weights", badFile.toString(), "--out",
        dir.resolve("out2").toString()));
    assertTrue(!Files.exists(dir.resolve("out2").resolve("model.onnx")), "nothing written on error");
  }
}
