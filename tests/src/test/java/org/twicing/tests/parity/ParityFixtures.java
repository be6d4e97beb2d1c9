package org.twicing.tests.parity;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;
import org.twicing.runtime.ModelSession;
import org.twicing.tests.support.Tolerance;

/**
 * Shared pieces of the model-level parity tests: seeded inputs and labels for a {@link TaskModel}, emission and
 * ONNX Runtime execution of a graph, and per-tensor relative-error comparison that reports every error it
 * measured (to stdout, prefixed {@code [parity]}) and fails on the worst one.
 */
public final class ParityFixtures {
  private ParityFixtures() { }

  /** The model input for {@code batch} examples ({@code t} tokens each for a language model). */
  public static Tensor input(TaskModel model, int batch, int t, Random rng) {
    if (model.inputType().dtype().isFloating()) {
      List<Dim> dims = model.inputType().shape().dims();
      long[] shape = new long[dims.size()];
      shape[0] = batch;
      for (int i = 1; i < shape.length; i++) {
        shape[i] = dims.get(i).size();
      }
      return Tensor.randn(DType.FLOAT32, rng, 1.0, shape);
    }
    return randomInts(rng, model.classes(), batch, t);
  }

  /** Labels fitting {@code input}: one class per example (vision) or per token (language model). */
  public static Tensor labels(TaskModel model, Tensor input, Random rng) {
    long[] s = input.shape();
    return model.inputType().dtype().isFloating()
        ? randomInts(rng, model.classes(), s[0])
        : randomInts(rng, model.classes(), s[0], s[1]);
  }

  /** Int64 values uniform in [0, bound). */
  public static Tensor randomInts(Random rng, long bound, long... shape) {
    double[] d = new double[Math.toIntExact(Tensor.numel(shape))];
    for (int i = 0; i < d.length; i++) {
      d[i] = Math.floorMod(rng.nextLong(), bound);
    }
    return new Tensor(DType.INT64, shape, d);
  }

  /** {@code labels} with the flat positions {@code ignored} set to {@code ignoreIndex}. */
  public static Tensor withIgnored(Tensor labels, long ignoreIndex, int... ignored) {
    double[] d = labels.toDoubles();
    for (int i : ignored) {
      d[i] = ignoreIndex;
    }
    return new Tensor(labels.dtype(), labels.shape(), d);
  }

  /**
   * Seeded initial weights with every rank-1 parameter (biases, LayerNorm scales and shifts) moved off its
   * constant initial value by N(0, 0.1) noise, so that a bias or norm parameter used in the wrong place, or not
   * at all, changes the result.
   */
  public static StateDict weights(TaskModel model, long seed) {
    StateDict init = StateDict.initialize(model, seed);
    Random rng = new Random(seed ^ 0x5DEECE66DL);
    Map<String, Tensor> m = new LinkedHashMap<>();
    init.asMap().forEach((name, t) -> {
      if (t.rank() == 1) {
        double[] d = t.toDoubles();
        for (int i = 0; i < d.length; i++) {
          d[i] += 0.1 * rng.nextGaussian();
        }
        t = new Tensor(t.dtype(), t.shape(), d).roundedToDType();
      }
      m.put(name, t);
    });
    return StateDict.load(model, m, "perturbed initial weights");
  }

  /** Serialized ONNX model of {@code g}, parameters as initializers or as graph inputs. */
  public static byte[] emit(Graph g, boolean parametersAsInputs) {
    EmitOptions o = parametersAsInputs ? EmitOptions.builder().parametersAsInputs(true).build()
        : EmitOptions.defaults();
    return OnnxEmitter.emit(g, o).toByteArray();
  }

  /** Runs {@code model} once in ONNX Runtime (CPU) on host tensors. */
  public static Map<String, Tensor> ort(byte[] model, Map<String, Tensor> feeds) {
    try (ModelSession s = ModelSession.open(model)) {
      return s.runHost(feeds);
    }
  }

  /** One measured comparison. */
  public record Err(String what, double relErr) { }

  /**
   * Compares tensors by name: {@code actual.get(k)} against {@code expected.get(k)} for every key {@code k} of
   * {@code names} (actual key, expected key), each by max|a-b| / max|b|. Prints a summary line for {@code label}
   * with the worst error and the number of tensors compared, and throws listing every tensor over {@code tol}.
   * Returns the worst error.
   */
  public static double compare(String label, Map<String, String> names, Map<String, Tensor> actual,
      Map<String, Tensor> expected, double tol) {
    List<Err> errs = new ArrayList<>();
    List<String> failures = new ArrayList<>();
    for (Map.Entry<String, String> e : names.entrySet()) {
      Tensor a = actual.get(e.getKey());
      Tensor b = expected.get(e.getValue());
      if (a == null || b == null) {
        failures.add(e.getKey() + ": missing (" + (a == null ? "actual" : "reference") + " has no such tensor)");
        continue;
      }
      if (!Arrays.equals(a.shape(), b.shape())) {
        failures.add(e.getKey() + ": shape " + Arrays.toString(a.shape()) + " vs reference "
            + Arrays.toString(b.shape()));
        continue;
      }
      double r = Tolerance.relErr(a.toDoubles(), b.toDoubles());
      errs.add(new Err(e.getKey(), r));
      if (!(r <= tol)) {
        failures.add(String.format(Locale.ROOT, "%s: relative error %.3e > %.1e (max|ref| %.3e)", e.getKey(), r,
            tol, maxAbs(b)));
      }
    }
    Err worst = errs.stream().max((x, y) -> Double.compare(nanToInf(x.relErr()), nanToInf(y.relErr())))
        .orElse(new Err("-", 0));
    System.out.printf(Locale.ROOT, "[parity] %-58s %4d tensors, max rel err %.3e (%s)%n", label, errs.size(),
        worst.relErr(), worst.what());
    if (!failures.isEmpty()) {
      throw new AssertionError(label + ": " + failures.size() + " of " + names.size() + " tensors differ from the "
          + "reference:\n  " + String.join("\n  ", failures));
    }
    return worst.relErr();
  }

  /** Identity name mapping for {@code keys}. */
  public static Map<String, String> same(Iterable<String> keys) {
    Map<String, String> m = new LinkedHashMap<>();
    keys.forEach(k -> m.put(k, k));
    return m;
  }

  /** max |x|. */
  public static double maxAbs(Tensor t) {
    double m = 0;
    for (double v : t.toDoubles()) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  private static double nanToInf(double v) {
    return Double.isNaN(v) ? Double.POSITIVE_INFINITY : v;
  }
}
