package org.twicing.models.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Summaries of ONNX Runtime traces: only kernel events count, grouped by op type and by our node scopes. */
class ProfileSummaryTest {
  @TempDir
  Path tmp;

  @Test
  void sumsKernelTimesByOpTypeAndPart() throws IOException {
    Path f = tmp.resolve("trace.json");
    Files.writeString(f, """
        [
         {"cat":"Session","name":"model_run","dur":900},
         {"cat":"Session","name":"model_run","dur":800},
         {"cat":"Node","name":"blocks.0.attn/MatMul_kernel_time","dur":100,"args":{"op_name":"MatMul"}},
         {"cat":"Node","name":"blocks.0.attn/MatMul_fence_before","dur":7,"args":{"op_name":"MatMul"}},
         {"cat":"Node","name":"blocks.0.attn.grad/MatMul_1_kernel_time","dur":60,"args":{"op_name":"MatMul"}},
         {"cat":"Node","name":"blocks.0.mlp.fc1/Gemm_kernel_time","dur":30,"args":{"op_name":"FusedMatMul"}},
         {"cat":"Node","name":"optimizer.blocks.0.mlp.fc1.weight/Mul_2_kernel_time","dur":8,"args":{"op_name":"Mul"}},
         {"cat":"Node","name":"loss/Mul_kernel_time","dur":2,"args":{"op_name":"Mul"}}
        ]
        """);
    ProfileSummary p = ProfileSummary.read(f);
    assertEquals(200, p.totalUs(), 1e-9, "fences and session events are not kernel time");
    assertEquals(2, p.runs());
    assertEquals(160, p.byOpType().get("MatMul"), 1e-9);
    assertEquals(10, p.byOpType().get("Mul"), 1e-9);
    assertEquals(List.of("MatMul", "FusedMatMul", "Mul"), p.opTypes(), "largest first");
    assertEquals(100, p.byPart().get("attention, forward"), 1e-9);
    assertEquals(60, p.byPart().get("attention, backward"), 1e-9);
    assertEquals(30, p.byPart().get("MLP, forward"), 1e-9);
    assertEquals(8, p.byPart().get("optimizer"), 1e-9);
    assertEquals(2, p.byPart().get("loss"), 1e-9);
    String md = p.markdown(2);
    assertTrue(md.startsWith("kernel time 0.1 ms per run over 2 runs"), md);
    assertTrue(md.contains("| MatMul | 0.08 | 80.0% |") && md.contains("| (others) | 0.01 | 5.0% |"), md);
  }

  @Test
  void theSameNodeOfEveryLayerAddsUpIntoOneRow() throws IOException {
    Path f = tmp.resolve("layers.json");
    Files.writeString(f, """
        [
         {"cat":"Session","name":"model_run","dur":900},
         {"cat":"Node","name":"blocks.0.mlp/Erf_kernel_time","dur":30,"args":{"op_name":"Erf"}},
         {"cat":"Node","name":"blocks.11.mlp/Erf_kernel_time","dur":20,"args":{"op_name":"Erf"}},
         {"cat":"Node","name":"transformer.h.1.attn.grad/MatMul_2/MatmulTransposeFusion//MatMulScaleFusion/_kernel_time",
          "dur":40,"args":{"op_name":"FusedMatMul"}},
         {"cat":"Node","name":"head/Gemm_kernel_time","dur":5,"args":{"op_name":"Gemm"}}
        ]
        """);
    ProfileSummary p = ProfileSummary.read(f);
    assertEquals(List.of("blocks.*.mlp/Erf (Erf)", "transformer.h.*.attn.grad/MatMul_2 (FusedMatMul)",
        "head/Gemm (Gemm)"), List.copyOf(p.byNode().keySet()));
    assertEquals(50, p.byNode().get("blocks.*.mlp/Erf (Erf)"), 1e-9);
    assertEquals("optimizer.blocks.*.attn.qkv.weight/Mul_3",
        ProfileSummary.layersMerged("optimizer.blocks.4.attn.qkv.weight/Mul_3"));
    String md = p.markdown(2);
    assertTrue(md.contains("| node, layers merged (op type) | ms / run | share |"), md);
    assertTrue(md.contains("| blocks.*.mlp/Erf (Erf) | 0.05 | 52.6% |") && md.contains("| (others) | 0.01 | 5.3% |"),
        md);
  }

  @Test
  void warmUpRunsAreLeftOutByTheirTimeWindow() throws IOException {
    Path f = tmp.resolve("warm.json");
    // Run 1 (ts 0..100) is a cold first run with a slow MatMul; runs 2 and 3 are warm. Events are out of order.
    Files.writeString(f, """
        [
         {"cat":"Session","name":"model_run","ts":300,"dur":100},
         {"cat":"Node","name":"a/MatMul_kernel_time","ts":10,"dur":90,"args":{"op_name":"MatMul"}},
         {"cat":"Session","name":"model_run","ts":0,"dur":100},
         {"cat":"Node","name":"a/MatMul_kernel_time","ts":210,"dur":20,"args":{"op_name":"MatMul"}},
         {"cat":"Session","name":"model_run","ts":200,"dur":100},
         {"cat":"Node","name":"a/MatMul_kernel_time","ts":310,"dur":30,"args":{"op_name":"MatMul"}},
         {"cat":"Node","name":"a/Add_kernel_time","ts":320,"dur":4,"args":{"op_name":"Add"}}
        ]
        """);
    ProfileSummary all = ProfileSummary.read(f);
    assertEquals(3, all.runs());
    assertEquals(144, all.totalUs(), 1e-9);
    ProfileSummary warm = ProfileSummary.read(f, 1);
    assertEquals(2, warm.runs());
    assertEquals(50, warm.byOpType().get("MatMul"), 1e-9, "the cold run's 90 us are left out");
    assertEquals(54, warm.totalUs(), 1e-9);
    IOException e = assertThrows(IOException.class, () -> ProfileSummary.read(f, 3));
    assertTrue(e.getMessage().contains("holds 3 session runs") && e.getMessage().contains("warm.json"),
        e.getMessage());
  }

  @Test
  void partsFollowTheNodeScopes() {
    assertEquals("LayerNorm, backward", ProfileSummary.part("blocks.3.norm2.grad/ReduceMean_1"));
    assertEquals("LayerNorm, forward", ProfileSummary.part("blocks.3.norm2/LayerNormalization"));
    assertEquals("other (embedding, head, graph glue), backward", ProfileSummary.part("model.grad/Constant_5"));
    assertEquals("outputs", ProfileSummary.part("outputs/blocks.0.norm1.bias.exp_avg.next"));
  }

  @Test
  void aFileThatIsNotATraceIsNamed() throws IOException {
    Path f = tmp.resolve("bad.json");
    Files.writeString(f, "{\"not\": \"a trace\"}");
    IOException e = assertThrows(IOException.class, () -> ProfileSummary.read(f));
    assertTrue(e.getMessage().contains("bad.json"), e.getMessage());
  }
}
