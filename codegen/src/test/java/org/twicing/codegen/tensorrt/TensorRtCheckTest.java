package org.twicing.codegen.tensorrt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;

/** Inference models pass the TensorRT rules; training graphs are flagged node by node; profiles bind dims. */
class TensorRtCheckTest {
  private static VisionTransformer vit() {
    return new VisionTransformer(VisionTransformer.Config.builder("vit-micro").imageSize(28).channels(1).patch(7)
        .classes(10).dim(16).depth(1).heads(2).mlp(32).attention(List.of(AttentionKind.TWICING)).dropout(0.1).build());
  }

  @Test
  void inferenceModelIsFitAndGetsAProfile() {
    VisionTransformer m = vit();
    ModelProto model = ModelArtifacts.inferenceModel(m, StateDict.initialize(m, 0), null, EmitOptions.defaults());
    assertEquals(List.of(), TensorRtCheck.check(model));
    var profile = TensorRtCheck.profile(model, Map.of("batch", new long[] {1, 4, 32}));
    assertEquals("--minShapes=pixels:1x1x28x28 --optShapes=pixels:4x1x28x28 --maxShapes=pixels:32x1x28x28",
        TensorRtCheck.trtexecFlags(profile));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TensorRtCheck.profile(model, Map.of()));
    assertTrue(e.getMessage().contains("'pixels'") && e.getMessage().contains("'batch'"), e.getMessage());
  }

  @Test
  void trainingGraphIsFlaggedNodeByNode() {
    VisionTransformer m = vit();
    ModelProto grads = OnnxEmitter.emit(TrainingGraphs.grads(m, StateDict.initialize(m, 0), TrainingSpec.defaults()),
        // Fused ops kept (the TensorRT emission mode), so the loss's OneHot is written as itself and flagged.
        EmitOptions.builder().parametersAsInputs(true).keepFusedOps(true).build());
    List<String> findings = TensorRtCheck.check(grads).stream().map(Object::toString).toList();
    assertTrue(findings.stream().anyMatch(f -> f.contains("(OneHot)")), findings.toString());
    assertTrue(findings.stream().anyMatch(f -> f.contains("(Dropout)") && f.contains("training-only")),
        findings.toString());
    assertTrue(findings.stream().anyMatch(f -> f.contains("(Conv)") && f.contains("patch_embed.proj.weight")),
        findings.toString());
  }
}
