package org.twicing.dsl.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/** Parameter values by full name, in the model's declaration order, like PyTorch's {@code state_dict}. */
public final class StateDict {
  private final LinkedHashMap<String, Tensor> tensors;

  private StateDict(LinkedHashMap<String, Tensor> tensors) {
    this.tensors = tensors;
  }

  /**
   * Fresh weights for every parameter of {@code model}. Each parameter draws from its own generator seeded by
   * {@code seed} and its name, so the same seed gives the same weights whatever else changes in the model.
   */
  public static StateDict initialize(Module model, long seed) {
    LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
    for (Param p : model.parameters()) {
      m.put(p.name(), p.init().create(p.shape(), new Random(mix(seed, p.name()))));
    }
    return new StateDict(m);
  }

  /**
   * Weights for {@code model} taken from {@code source} (e.g. a safetensors file named {@code origin}): every
   * parameter must be present with its shape and finite values; unknown tensors are errors. Errors name the
   * tensor; up to five are listed, then their count.
   */
  public static StateDict load(Module model, Map<String, Tensor> source, String origin) {
    LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    String nonFinite = null;
    Set<String> known = new HashSet<>();
    for (Param p : model.parameters()) {
      known.add(p.name());
      Tensor t = source.get(p.name());
      if (t == null) {
        problems.add("missing tensor '" + p.name() + "' (expected float32" + Arrays.toString(p.shape()) + ")");
      } else if (!Arrays.equals(t.shape(), p.shape())) {
        problems.add("tensor '" + p.name() + "' has shape " + Arrays.toString(t.shape()) + ", expected "
            + Arrays.toString(p.shape()));
      } else if (!t.dtype().isFloating()) {
        problems.add("tensor '" + p.name() + "' has dtype " + t.dtype() + ", expected a float type");
      } else {
        m.put(p.name(), t.dtype() == DType.FLOAT32 ? t : t.cast(DType.FLOAT32));
        if (nonFinite == null) {
          for (int i = 0; i < t.size(); i++) {
            if (!Double.isFinite(t.get(i))) {
              nonFinite = "tensor '" + p.name() + "' holds a non-finite value (element " + i + " is "
                  + (float) t.get(i) + ")";
              break;
            }
          }
        }
      }
    }
    for (String name : source.keySet()) {
      if (!known.contains(name)) {
        problems.add("unknown tensor '" + name + "' (the model has no parameter of that name)");
      }
    }
    if (!problems.isEmpty()) {
      // A file of another model can hold thousands of tensors: a few examples say enough.
      String listed = String.join("; ", problems.subList(0, Math.min(5, problems.size())))
          + (problems.size() > 5 ? "; and " + (problems.size() - 5) + " more" : "");
      throw new IllegalArgumentException("weights in " + origin + " do not fit the model: " + listed);
    }
    if (nonFinite != null) {
      // NaN or infinite weights only ever produce NaN outputs; they come from a run that diverged.
      throw new IllegalArgumentException(origin + ": " + nonFinite + "; these weights are unusable");
    }
    return new StateDict(m);
  }

  private static long mix(long seed, String name) {
    long h = seed * 0x9E3779B97F4A7C15L;
    for (int i = 0; i < name.length(); i++) {
      h = (h ^ name.charAt(i)) * 0x100000001B3L;
    }
    return h ^ (h >>> 29);
  }

  /** The tensor for {@code name}, or null. */
  public Tensor get(String name) {
    return tensors.get(name);
  }

  /** All tensors in declaration order. */
  public Map<String, Tensor> asMap() {
    return Collections.unmodifiableMap(tensors);
  }

  /** A copy with {@code name} replaced. */
  public StateDict with(String name, Tensor t) {
    LinkedHashMap<String, Tensor> m = new LinkedHashMap<>(tensors);
    m.put(name, t);
    return new StateDict(m);
  }
}
