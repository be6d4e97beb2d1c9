package org.twicing.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench scaling} on tiny sizes: one row per (attention, batch, T), the T² share growing with T, twicing's
 * extra multiply-adds equal to one more A·V product per head and layer (3 B H T² d_head L per step), and the plots.
 */
class BenchScalingTest {
  @TempDir
  Path tmp;

  @Test
  void tableAndPlots() throws Exception {
    TwicingCli.Captured out = TwicingCli.capture("bench", "scaling", "--model", "lm-tiny", "--lengths", "16,64",
        "--batches", "2", "--iters", "1", "--warmup", "0", "--threads", "1", "--plot", tmp.resolve("s").toString());
    assertEquals(0, out.code(), out.out() + out.err());
    List<String[]> rows = out.out().lines().filter(l -> l.startsWith("| softmax") || l.startsWith("| twicing"))
        .map(l -> l.split("\\|")).toList();
    assertEquals(4, rows.size(), out.out());
    double soft16 = Double.parseDouble(rows.get(0)[5].trim());
    double soft64 = Double.parseDouble(rows.get(1)[5].trim());
    double twice64 = Double.parseDouble(rows.get(3)[5].trim());
    // lm-tiny: 4 layers, 4 heads of 32; the twicing step adds 3 B H T^2 d_head L multiply-adds at T = 64.
    double extra = 3.0 * 2 * 4 * 64 * 64 * 32 * 4 / 1e9;
    assertEquals(extra, twice64 - soft64, 0.0011, out.out());
    double share16 = Double.parseDouble(rows.get(0)[6].trim().replace("%", ""));
    double share64 = Double.parseDouble(rows.get(1)[6].trim().replace("%", ""));
    assertTrue(share64 > share16 && soft64 > soft16, out.out());
    assertTrue(Files.size(tmp.resolve("s-ms.png")) > 1000 && Files.size(tmp.resolve("s-t2-share.png")) > 1000);
    assertEquals(2, TwicingCli.capture("bench", "scaling", "--model", "vit-fmnist").code());
  }
}
