package org.twicing.codegen.train;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorType;

/**
 * Builds the training graphs of a model from its forward definition: {@code grads} (loss and every gradient),
 * {@code train_step} (one optimizer step) and {@code apply} (the optimizer step alone, on given gradients). All
 * take parameters as graph inputs and use default-domain ops only, so any stock ONNX Runtime can run them. To get
 * ONNX models, use {@code ModelArtifacts.trainStepModel}, {@code ModelArtifacts.gradsModel} or
 * {@code ModelArtifacts.writeAll} (or emit with {@code EmitOptions.training()}).
 */
public final class TrainingGraphs {
  /** Name of the labels input. */
  public static final String LABELS = "labels";
  /** Name of the learning-rate input. */
  public static final String LR = "lr";
  /** Name of the step-count input (1 for the first step). */
  public static final String STEP = "step";
  /** Suffix of a gradient's name: output of {@link #grads}, input of {@link #apply}. */
  public static final String GRAD_SUFFIX = ".grad";

  private TrainingGraphs() { }

  /** The loss and gradient graph: outputs {@code loss}, {@code <param>.grad}, and {@code <input>.grad} for float inputs. */
  public static Graph grads(TaskModel model, StateDict weights, TrainingSpec spec) {
    GraphBuilder g = new GraphBuilder(model.name() + "_grads");
    Forward f = new Forward(g, weights, true, spec.dropoutSeed());
    Value input = g.input(model.inputName(), model.inputType());
    Value labels = g.input(LABELS, model.labelsType());
    Value loss = spec.loss().apply(model.logits(f, input), labels);
    List<Param> params = model.parameters();
    List<Value> wrt = new ArrayList<>();
    params.forEach(p -> wrt.add(f.param(p)));
    if (input.dtype().isFloating()) {
      wrt.add(input);
    }
    Map<Value, Value> grads = Autodiff.gradients(loss, wrt);
    g.output("loss", loss);
    grads.forEach((v, gv) -> g.output(v.name() + GRAD_SUFFIX, gv));
    InferenceGraph.metadata(model).forEach(g::metadata);
    g.metadata(MetadataKeys.LOSS, describe(spec.loss()));
    return GraphPasses.optimize(g.build());
  }

  /**
   * One optimizer step: inputs are the model input, labels, lr, step, every parameter and every optimizer state
   * tensor ({@code <param>.<state>}); outputs {@code loss} (before the update) and {@code X.next} for each of
   * those parameters and states.
   */
  public static Graph trainStep(TaskModel model, StateDict weights, TrainingSpec spec) {
    GraphBuilder g = new GraphBuilder(model.name() + "_train_step");
    Forward f = new Forward(g, weights, true, spec.dropoutSeed());
    Value input = g.input(model.inputName(), model.inputType());
    Value labels = g.input(LABELS, model.labelsType());
    Value lr = g.input(LR, TensorType.of(DType.FLOAT32));
    Value step = g.input(STEP, TensorType.of(DType.INT64));
    Value loss = spec.loss().apply(model.logits(f, input), labels);
    List<Param> params = model.parameters();
    List<Value> wrt = new ArrayList<>();
    params.forEach(p -> wrt.add(f.param(p)));
    Map<Value, Value> grads = Autodiff.gradients(loss, wrt);
    List<Value> gradList = new ArrayList<>();
    wrt.forEach(v -> gradList.add(grads.get(v)));
    Map<String, Value> next = optimizerStep(g, params, wrt, gradList, spec, lr, step);
    g.output("loss", loss);
    next.forEach(g::output);
    InferenceGraph.metadata(model).forEach(g::metadata);
    g.metadata(MetadataKeys.LOSS, describe(spec.loss()));
    g.metadata(MetadataKeys.OPTIMIZER, spec.optimizer().describe());
    g.metadata(MetadataKeys.CLIP_NORM, Double.toString(spec.clipNorm()));
    // The exact spec, so that a generated trainer's checkpoints record it as 'twicing train' checkpoints do.
    g.metadata(TrainingSpecs.METADATA_KEY, TrainingSpecs.encode(spec));
    return GraphPasses.optimize(g.build());
  }

  /**
   * The optimizer update alone, for data-parallel training where the gradients were computed elsewhere (by
   * {@link #grads} on each worker's shard, then averaged): inputs are every parameter, its gradient
   * ({@code <param>.grad}), every optimizer state tensor ({@code <param>.<state>}), {@code lr} and {@code step};
   * outputs {@code X.next} for each parameter and state, computed by exactly the ops {@link #trainStep} uses
   * (global-norm clipping of the given gradients included), so a step through {@code grads} then {@code apply}
   * equals one {@code train_step} on the same batch.
   */
  public static Graph apply(TaskModel model, TrainingSpec spec) {
    GraphBuilder g = new GraphBuilder(model.name() + "_apply");
    List<Param> params = model.parameters();
    List<Value> pv = new ArrayList<>();
    List<Value> gv = new ArrayList<>();
    for (Param p : params) {
      pv.add(g.input(p.name(), TensorType.of(DType.FLOAT32, (Object[]) box(p.shape()))));
    }
    for (Param p : params) {
      gv.add(g.input(p.name() + GRAD_SUFFIX, TensorType.of(DType.FLOAT32, (Object[]) box(p.shape()))));
    }
    Value lr = g.input(LR, TensorType.of(DType.FLOAT32));
    Value step = g.input(STEP, TensorType.of(DType.INT64));
    Map<String, Value> next = optimizerStep(g, params, pv, gv, spec, lr, step);
    next.forEach(g::output);
    g.metadata(MetadataKeys.OPTIMIZER, spec.optimizer().describe());
    g.metadata(MetadataKeys.CLIP_NORM, Double.toString(spec.clipNorm()));
    return GraphPasses.optimize(g.build());
  }

  /**
   * The shared update of {@link #trainStep} and {@link #apply}: declares the optimizer state inputs, clips the
   * gradients by their global norm when the spec asks, and returns {@code X.next} for every parameter and state.
   */
  private static Map<String, Value> optimizerStep(GraphBuilder g, List<Param> params, List<Value> paramValues,
      List<Value> grads, TrainingSpec spec, Value lr, Value step) {
    Map<String, Map<String, Value>> states = new LinkedHashMap<>();
    for (Param p : params) {
      Map<String, Value> st = new LinkedHashMap<>();
      for (String s : spec.optimizer().stateNames()) {
        st.put(s, g.input(p.name() + "." + s, TensorType.of(DType.FLOAT32, (Object[]) box(p.shape()))));
      }
      states.put(p.name(), st);
    }
    Map<String, Value> next = new LinkedHashMap<>();
    try (var s = g.absoluteScope("optimizer")) {
      Value stepF = cast(step, DType.FLOAT32);
      Value clip = spec.clipNorm() > 0 ? clipCoefficient(grads, spec.clipNorm()) : null;
      for (int i = 0; i < params.size(); i++) {
        Param p = params.get(i);
        Value pv = paramValues.get(i);
        Value gv = grads.get(i);
        if (clip != null) {
          gv = mul(gv, clip);
        }
        Map<String, Value> upd;
        try (var ps = g.absoluteScope("optimizer." + p.name())) {
          upd = spec.optimizer().update(pv, gv, states.get(p.name()), lr, stepF, p.decay());
        }
        next.put(p.name() + ".next", upd.get(""));
        for (String sn : spec.optimizer().stateNames()) {
          next.put(p.name() + "." + sn + ".next", upd.get(sn));
        }
      }
    }
    return next;
  }

  /** min(1, maxNorm / (‖g‖₂ + 1e-6)) over all gradients together, as torch's clip_grad_norm_. */
  private static Value clipCoefficient(List<Value> grads, double maxNorm) {
    Value total = null;
    for (Value gv : grads) {
      Value sq = reduceSum(mul(gv, gv), false);
      total = total == null ? sq : add(total, sq);
    }
    Value norm = sqrt(total);
    Value coef = div(scalarLike(norm, maxNorm), add(norm, scalarLike(norm, 1e-6)));
    Value one = scalarLike(norm, 1.0);
    return where(less(coef, one), coef, one);
  }

  private static Object[] box(long[] shape) {
    Object[] o = new Object[shape.length];
    for (int i = 0; i < shape.length; i++) {
      o[i] = shape[i];
    }
    return o;
  }

  private static String describe(CrossEntropy ce) {
    return "cross_entropy(label_smoothing=" + ce.labelSmoothing() + ", ignore_index=" + ce.ignoreIndex() + ")";
  }
}
