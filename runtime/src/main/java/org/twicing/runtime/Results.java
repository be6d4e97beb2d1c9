package org.twicing.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtSession;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.twicing.dsl.types.Tensor;

/** The outputs of one {@link ModelSession#run} call, by name; closing it frees their native memory. */
public final class Results implements AutoCloseable {
  private final OrtSession.Result result;
  private final List<String> names;
  private final String model;

  Results(OrtSession.Result result, String model) {
    this.result = result;
    this.model = model;
    List<String> n = new ArrayList<>(result.size());
    for (Map.Entry<String, OnnxValue> e : result) {
      n.add(e.getKey());
    }
    this.names = Collections.unmodifiableList(n);
  }

  /** Output names in the order the model declares them. */
  public List<String> names() {
    return names;
  }

  /** Number of outputs. */
  public int size() {
    return names.size();
  }

  /** Whether an output named {@code name} is present. */
  public boolean has(String name) {
    return names.contains(name);
  }

  /** The output {@code name} as an ONNX Runtime tensor, still owned by these results (do not close it). */
  public OnnxTensor tensor(String name) {
    Optional<OnnxValue> v = result.get(name);
    if (v.isEmpty()) {
      throw new IllegalArgumentException("no output '" + name + "' in the results of " + model + "; outputs are "
          + names);
    }
    if (!(v.get() instanceof OnnxTensor t)) {
      throw new IllegalArgumentException("output '" + name + "' of " + model + " is a " + v.get().getType()
          + ", not a tensor");
    }
    return t;
  }

  /** The output {@code name} copied into a host tensor. */
  public Tensor host(String name) {
    return Tensors.toHost(tensor(name));
  }

  /** The values of float32 output {@code name}. */
  public float[] floats(String name) {
    return Tensors.toFloats(tensor(name));
  }

  /** The values of int64 output {@code name}. */
  public long[] longs(String name) {
    return Tensors.toLongs(tensor(name));
  }

  /** The concrete shape of output {@code name}. */
  public long[] shape(String name) {
    return Tensors.shapeOf(tensor(name));
  }

  /** Every output copied into host tensors, in declaration order. */
  public Map<String, Tensor> toHost() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (String n : names) {
      out.put(n, host(n));
    }
    return out;
  }

  /** The underlying ONNX Runtime result, for APIs this wrapper does not cover; still closed by {@link #close()}. */
  public OrtSession.Result raw() {
    return result;
  }

  @Override
  public void close() {
    result.close();
  }
}
