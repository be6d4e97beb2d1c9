package org.twicing.tests.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.models.bench.Alternation;
import org.twicing.models.bench.TorchPeer;
import org.twicing.tests.parity.TorchReference;

/** The PyTorch peer of {@code bench --torch} (protocol, variants, errors) and the alternating timer. */
class TorchPeerTest {
  private static final Path SCRIPT = TorchReference.SCRIPT_DIR.resolve("bench_torch.py");

  private static TaskModel tinyVit() {
    return new VisionTransformer(VisionTransformer.Config.builder("vit-peer").imageSize(8).channels(1).patch(4)
        .classes(5).dim(16).depth(2).heads(2).mlp(32)
        .attention(List.of(AttentionKind.SOFTMAX, AttentionKind.TWICING)).build());
  }

  @Test
  void debiansTorchRunsEagerAndSaysWhyCompileIsMissing() throws IOException {
    // Debian's torch 1.13 has no torch.compile: the peer must still time eager mode and say why.
    TorchPeer.Interpreter py = new TorchPeer.Interpreter(Path.of(TorchReference.PYTHON), "test");
    for (String task : List.of("train", "infer")) {
      try (TorchPeer peer = TorchPeer.start(py, SCRIPT, tinyVit().configJson(), 4, 1, task)) {
        assertTrue(peer.version().startsWith("1.13"), peer.version());
        assertEquals(List.of("eager"), peer.variants());
        assertTrue(peer.notes().stream().anyMatch(n -> n.startsWith("compile unavailable")), peer.notes()::toString);
        double[] ms = peer.run("eager", 3);
        assertEquals(3, ms.length);
        assertTrue(Arrays.stream(ms).allMatch(t -> t > 0 && Double.isFinite(t)), Arrays.toString(ms));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> peer.run("compile", 1));
        assertTrue(e.getMessage().contains("compile") && e.getMessage().contains("[eager]"), e.getMessage());
      }
    }
  }

  @Test
  void aBadConfigIsAnErrorNamingThePeer() {
    TorchPeer.Interpreter py = new TorchPeer.Interpreter(Path.of(TorchReference.PYTHON), "test");
    IOException e = assertThrows(IOException.class,
        () -> TorchPeer.start(py, SCRIPT, "{\"kind\": \"nonsense\"}", 4, 1, "train"));
    assertTrue(e.getMessage().contains("PyTorch peer") && e.getMessage().contains("bench_torch.py"), e.getMessage());
    IOException missing = assertThrows(IOException.class,
        () -> TorchPeer.start(py, Path.of("no/such/bench_torch.py"), "{}", 4, 1, "train"));
    assertTrue(missing.getMessage().contains("no/such/bench_torch.py"), missing.getMessage());
  }

  @Test
  void interpreterOrderIsFlagThenEnvironmentThenVenvThenDebian(@TempDir Path home) throws IOException {
    Path flag = Path.of("/opt/py/bin/python");
    assertEquals(flag, TorchPeer.findPython(flag, Map.of("TWICING_PYTHON", "/x"), home).python());
    assertEquals(Path.of("/x"), TorchPeer.findPython(null, Map.of("TWICING_PYTHON", "/x"), home).python());
    assertEquals(Path.of("/usr/bin/python3"), TorchPeer.findPython(null, Map.of(), home).python());
    Path venv = home.resolve("V/bin/python");
    Files.createDirectories(venv.getParent());
    Files.writeString(venv, "#!/bin/sh\n");
    venv.toFile().setExecutable(true);
    assertEquals(venv, TorchPeer.findPython(null, Map.of(), home).python());
  }

  @Test
  void alternationInterleavesDropsEachTurnsFirstRunAndTakesMedians() throws Exception {
    List<String> calls = new ArrayList<>();
    Map<String, Alternation.Contender> c = new LinkedHashMap<>();
    // Each turn returns n times; the first (after a switch) is huge and must be dropped.
    c.put("a", n -> {
      calls.add("a" + n);
      double[] t = new double[n];
      Arrays.fill(t, 2.0);
      t[0] = 1e9;
      t[n - 1] = 4.0;
      return t;
    });
    c.put("b", n -> {
      calls.add("b" + n);
      double[] t = new double[n];
      Arrays.fill(t, 5.0);
      t[0] = 1e9;
      return t;
    });
    Map<String, double[]> all = Alternation.run(c, 3, 3);
    assertEquals(List.of("a4", "b4", "a4", "b4", "a4", "b4"), calls);
    assertArrayEquals(new double[] {2, 2, 4, 2, 2, 4, 2, 2, 4}, all.get("a"));
    assertEquals(2.0, Alternation.median(all.get("a")));
    assertEquals(5.0, Alternation.median(all.get("b")));
    assertEquals(2.5, Alternation.median(new double[] {4, 1, 2, 3}));
    assertThrows(IllegalArgumentException.class, () -> Alternation.run(c, 0, 3));
  }
}
