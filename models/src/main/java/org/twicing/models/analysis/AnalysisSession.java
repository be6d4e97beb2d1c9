package org.twicing.models.analysis;

import ai.onnxruntime.OnnxTensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;

/**
 * One ONNX session for analysis of an image model: inputs {@code pixels} and {@code labels}; outputs
 * {@code logits}, {@code loss} (batch-mean cross-entropy), {@code pixels.grad} and each tapped block output.
 * The forward pass is built in inference mode (no dropout), with the weights as initializers.
 */
public final class AnalysisSession implements AutoCloseable {
  /** Name of the logits output. */
  public static final String LOGITS = "logits";
  /** Name of the loss output. */
  public static final String LOSS = "loss";

  /** One tapped activation of shape [batch, tokens, dim]. */
  public record Tap(float[] data, int batch, int tokens, int dim) { }

  /** The outputs of one run: logits [batch, classes], the pixel gradient (or null) and taps (empty if not asked). */
  public record Pass(float[] logits, int classes, float[] grad, Map<String, Tap> taps) { }

  private final ModelSession session;
  private final TaskModel model;
  private final String gradName;
  private final List<String> blocks;

  private AnalysisSession(ModelSession session, TaskModel model, List<String> blocks) {
    this.session = session;
    this.model = model;
    this.gradName = model.inputName() + ".grad";
    this.blocks = blocks;
  }

  /** Builds the analysis graph of {@code model} with {@code weights}. */
  public static Graph graph(TaskModel model, StateDict weights) {
    GraphBuilder g = new GraphBuilder(model.name() + "_analysis");
    Value px = g.input(model.inputName(), model.inputType());
    Value labels = g.input(TrainingGraphs.LABELS, model.labelsType());
    Forward f = new Forward(g, weights, false, 0);
    Value logits = model.logits(f, px);
    Value loss = CrossEntropy.defaults().apply(logits, labels);
    Value grad = Autodiff.gradients(loss, List.of(px)).get(px);
    g.output(LOGITS, logits);
    g.output(LOSS, loss);
    g.output(model.inputName() + ".grad", grad);
    f.taps().forEach(g::output);
    return GraphPasses.optimize(g.build());
  }

  /** Compiles and opens the analysis graph. */
  public static AnalysisSession open(TaskModel model, StateDict weights, SessionOptionsSpec options) {
    GraphBuilder probe = new GraphBuilder("taps");
    Forward pf = new Forward(probe, weights, false, 0);
    model.logits(pf, probe.input(model.inputName(), model.inputType()));
    List<String> blocks = new ArrayList<>(pf.taps().keySet());
    byte[] bytes = OnnxEmitter.emit(graph(model, weights), EmitOptions.defaults()).toByteArray();
    return new AnalysisSession(ModelSession.open(bytes, options), model, blocks);
  }

  /** The tapped block names, in depth order. */
  public List<String> blocks() {
    return blocks;
  }

  /** The model analysed. */
  public TaskModel model() {
    return model;
  }

  /**
   * Runs {@code pixels} (flattened [batch, C, H, W]; {@code imageShape} is [C, H, W]) with {@code labels}, computing the gradient and taps only when
   * asked.
   */
  public Pass run(float[] pixels, long[] labels, long[] imageShape, boolean withGrad, boolean withTaps) {
    int batch = labels.length;
    long[] shape = new long[imageShape.length + 1];
    shape[0] = batch;
    System.arraycopy(imageShape, 0, shape, 1, imageShape.length);
    List<String> wanted = new ArrayList<>(List.of(LOGITS));
    if (withGrad) {
      wanted.add(gradName);
    }
    if (withTaps) {
      wanted.addAll(blocks);
    }
    Map<String, OnnxTensor> feeds = new HashMap<>();
    try {
      feeds.put(model.inputName(), Tensors.floats(pixels, shape));
      feeds.put(TrainingGraphs.LABELS, Tensors.longs(labels, batch));
      try (Results r = session.run(feeds, wanted)) {
        float[] logits = r.floats(LOGITS);
        int classes = logits.length / batch;
        float[] grad = withGrad ? r.floats(gradName) : null;
        Map<String, Tap> taps = new LinkedHashMap<>();
        if (withTaps) {
          for (String b : blocks) {
            long[] s = r.shape(b);
            taps.put(b, new Tap(r.floats(b), (int) s[0], (int) s[1], (int) s[2]));
          }
        }
        return new Pass(logits, classes, grad, taps);
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public void close() {
    session.close();
  }
}
