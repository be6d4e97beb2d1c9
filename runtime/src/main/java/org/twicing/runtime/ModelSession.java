package org.twicing.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * An ONNX model loaded into ONNX Runtime, with its inputs and outputs described in twicing's types. Every run
 * checks what it is fed against the declared inputs (names, dtypes, ranks, fixed dims, and symbolic dims that
 * must agree across inputs) before ONNX Runtime sees it, so mistakes are reported by input name.
 */
public final class ModelSession implements AutoCloseable {
  private final OrtEnvironment env;
  private final OrtSession session;
  private final String description;
  private final ExecutionProvider provider;
  private final SessionOptionsSpec spec;
  private final Map<String, TensorType> inputs;
  private final Map<String, TensorType> outputs;
  private volatile boolean closed;

  private ModelSession(OrtEnvironment env, OrtSession session, String source, ExecutionProvider provider,
      SessionOptionsSpec spec) throws OrtException {
    this.env = env;
    this.session = session;
    this.provider = provider;
    this.spec = spec;
    String graphName = session.getMetadata().getGraphName();
    this.description = "model '" + graphName + "' (" + source + ")";
    this.inputs = declared(session.getInputInfo(), "input of " + description);
    this.outputs = declared(session.getOutputInfo(), "output of " + description);
  }

  /** Loads the model file {@code modelFile} on CPU with default options. */
  public static ModelSession open(Path modelFile) {
    return open(modelFile, SessionOptionsSpec.defaults());
  }

  /** Loads the model file {@code modelFile} (external data files are looked up next to it) with {@code spec}. */
  public static ModelSession open(Path modelFile, SessionOptionsSpec spec) {
    if (!Files.isRegularFile(modelFile)) {
      throw new IllegalArgumentException("model file " + modelFile.toAbsolutePath()
          + " does not exist or is not a regular file");
    }
    return create(modelFile.toString(), spec, (e, o) -> e.createSession(modelFile.toString(), o));
  }

  /** Loads a serialized ONNX model on CPU with default options. */
  public static ModelSession open(byte[] model) {
    return open(model, SessionOptionsSpec.defaults());
  }

  /** Loads a serialized ONNX model (which cannot use external data files) with {@code spec}. */
  public static ModelSession open(byte[] model, SessionOptionsSpec spec) {
    if (model == null || model.length == 0) {
      throw new IllegalArgumentException("the serialized ONNX model is " + (model == null ? "null" : "empty"));
    }
    return create("in-memory, " + model.length + " bytes", spec, (e, o) -> e.createSession(model, o));
  }

  private interface Opener {
    OrtSession open(OrtEnvironment env, OrtSession.SessionOptions options) throws OrtException;
  }

  private static ModelSession create(String source, SessionOptionsSpec spec, Opener opener) {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    SessionOptionsSpec.Resolved resolved = spec.resolve();
    ExecutionProvider used = resolved.provider();
    OrtSession session;
    try (OrtSession.SessionOptions options = resolved.options()) {
      session = opener.open(env, options);
    } catch (OrtException e) {
      if (used == ExecutionProvider.CPU) {
        throw new OnnxRuntimeException("ONNX Runtime could not load model " + source + " on cpu", e);
      }
      // The provider registered, but building the session on it failed: typically no visible GPU, or a CUDA /
      // TensorRT library that only loads once kernels are created. A bad model fails the cpu retry as well.
      if (!spec.fallback()) {
        throw new OnnxRuntimeException("ONNX Runtime could not load model " + source + " on execution provider "
            + used + " (if the cause concerns CUDA or TensorRT, the GPU or its libraries are missing; set"
            + " fallback=true in SessionOptionsSpec to run on cpu instead)", e);
      }
      SessionOptionsSpec.warnFallback("loading model " + source + " on " + used + " failed: " + e.getMessage());
      used = ExecutionProvider.CPU;
      try (OrtSession.SessionOptions options = spec.onCpu().resolve().options()) {
        session = opener.open(env, options);
      } catch (OrtException cpuFailure) {
        cpuFailure.addSuppressed(e);
        throw new OnnxRuntimeException("ONNX Runtime could not load model " + source + " on cpu either",
            cpuFailure);
      }
    }
    try {
      return new ModelSession(env, session, source, used, spec);
    } catch (OrtException | RuntimeException e) {
      try {
        session.close();
      } catch (OrtException closeFailure) {
        e.addSuppressed(closeFailure);
      }
      if (e instanceof RuntimeException re) {
        throw re;
      }
      throw new OnnxRuntimeException("could not read the input/output metadata of model " + source, e);
    }
  }

  private static Map<String, TensorType> declared(Map<String, NodeInfo> infos, String role) {
    Map<String, TensorType> out = new LinkedHashMap<>();
    infos.forEach((name, info) -> out.put(name, OrtTypes.declaredType(info, role)));
    return Collections.unmodifiableMap(out);
  }

  /** Says which model this is (graph name and file or size), as used in error messages. */
  public String description() {
    return description;
  }

  /** The execution provider the session runs on: the one asked for, or cpu after a fallback. */
  public ExecutionProvider provider() {
    return provider;
  }

  /** The options the session was opened with (as asked, before any fallback). */
  public SessionOptionsSpec spec() {
    return spec;
  }

  /**
   * The declared inputs, in model order. Dynamic dims are symbols: the model's dim_param name, or {@code ?} when it
   * has none (such dims may take any size and bind to nothing).
   */
  public Map<String, TensorType> inputs() {
    return inputs;
  }

  /** The declared outputs, in model order, described as {@link #inputs()} are. */
  public Map<String, TensorType> outputs() {
    return outputs;
  }

  /** The declared type of input {@code name}; fails listing the inputs when there is none by that name. */
  public TensorType input(String name) {
    TensorType t = inputs.get(name);
    if (t == null) {
      throw new IllegalArgumentException("no input '" + name + "' in " + description + "; its inputs are "
          + describe(inputs));
    }
    return t;
  }

  /** The declared type of output {@code name}; fails listing the outputs when there is none by that name. */
  public TensorType output(String name) {
    TensorType t = outputs.get(name);
    if (t == null) {
      throw new IllegalArgumentException("no output '" + name + "' in " + description + "; its outputs are "
          + describe(outputs));
    }
    return t;
  }

  /** The ONNX Runtime environment tensors for this session are created in. */
  public OrtEnvironment environment() {
    return env;
  }

  /** Runs the model on {@code feeds} (one tensor per input, all checked first) and returns every output. */
  public Results run(Map<String, ? extends OnnxTensor> feeds) {
    return run(feeds, outputs.keySet());
  }

  /** Runs the model on {@code feeds}, computing only the outputs named in {@code outputNames}. */
  public Results run(Map<String, ? extends OnnxTensor> feeds, Collection<String> outputNames) {
    checkOpen();
    Map<String, Fed> fed = new LinkedHashMap<>();
    feeds.forEach((name, t) -> fed.put(name, Fed.of(name, t, this)));
    checkFeeds(fed);
    Set<String> wanted = new LinkedHashSet<>();
    for (String o : outputNames) {
      output(o);
      wanted.add(o);
    }
    return runChecked(feeds, wanted);
  }

  /**
   * Runs the model on host tensors and returns every output as a host tensor; convenient for tests and small
   * inputs, at the cost of a copy each way.
   */
  public Map<String, Tensor> runHost(Map<String, Tensor> feeds) {
    checkOpen();
    Map<String, Fed> fed = new LinkedHashMap<>();
    feeds.forEach((name, t) -> {
      if (t == null) {
        throw new InputMismatchException(name, "input '" + name + "' of " + description + " is null; expected "
            + inputs.getOrDefault(name, null));
      }
      fed.put(name, new Fed(t.dtype().toString(), t.dtype(), t.shape()));
    });
    checkFeeds(fed);
    Map<String, OnnxTensor> ort = new LinkedHashMap<>();
    try {
      feeds.forEach((name, t) -> ort.put(name, Tensors.fromHost(t)));
      try (Results r = runChecked(ort, outputs.keySet())) {
        return r.toHost();
      }
    } finally {
      ort.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * Ends ONNX Runtime profiling and returns the JSON profile it wrote; fails when the spec did not enable
   * profiling.
   */
  public Path endProfiling() {
    checkOpen();
    if (spec.profilingPrefix().isEmpty()) {
      throw new IllegalStateException("profiling is off for " + description
          + "; enable it with SessionOptionsSpec.builder().profiling(prefix)");
    }
    try {
      return Path.of(session.endProfiling());
    } catch (OrtException e) {
      throw new OnnxRuntimeException("could not end profiling of " + description, e);
    }
  }

  /** The underlying ONNX Runtime session, for APIs this wrapper does not cover; closed with this session. */
  public OrtSession raw() {
    return session;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    // The OrtEnvironment is ORT's process-wide singleton shared by every session and tensor: never close it here.
    try {
      session.close();
    } catch (OrtException e) {
      throw new OnnxRuntimeException("could not close the session of " + description, e);
    }
  }

  @Override
  public String toString() {
    return "ModelSession{" + description + " on " + provider + ", inputs " + describe(inputs) + ", outputs "
        + describe(outputs) + "}";
  }

  // ---------------------------------------------------------------- input checks

  /** What was fed for one input: enough to check it without caring whether it is a host or an ORT tensor. */
  private record Fed(String dtypeName, DType dtype, long[] shape) {
    static Fed of(String name, OnnxTensor t, ModelSession s) {
      if (t == null) {
        throw new InputMismatchException(name, "input '" + name + "' of " + s.description + " is null; expected "
            + s.inputs.getOrDefault(name, null));
      }
      if (t.isClosed()) {
        throw new InputMismatchException(name, "input '" + name + "' of " + s.description
            + " was fed a tensor that is already closed");
      }
      TensorInfo info = t.getInfo();
      return new Fed(OrtTypes.describe(info.onnxType), OrtTypes.dtypeOrNull(info.onnxType), info.getShape());
    }

    String describe() {
      return dtypeName + Arrays.toString(shape);
    }
  }

  /** Where a symbolic dim was first bound, so a conflicting binding can name both inputs. */
  private record Binding(String input, int axis, long size, long[] shape) { }

  private void checkFeeds(Map<String, Fed> fed) {
    // Unknown names first: a misspelt input also shows up as a missing one, and the misspelling is the real cause.
    for (Map.Entry<String, Fed> e : fed.entrySet()) {
      if (!inputs.containsKey(e.getKey())) {
        throw new InputMismatchException(e.getKey(), "unknown input '" + e.getKey() + "' (fed "
            + e.getValue().describe() + ") for " + description + "; its inputs are " + describe(inputs));
      }
    }
    for (Map.Entry<String, TensorType> e : inputs.entrySet()) {
      if (!fed.containsKey(e.getKey())) {
        throw new InputMismatchException(e.getKey(), "missing input '" + e.getKey() + "': " + description
            + " expects " + e.getValue() + " but nothing was fed for it (fed: " + fed.keySet() + ")");
      }
    }
    Map<String, Binding> bindings = new HashMap<>();
    for (Map.Entry<String, TensorType> e : inputs.entrySet()) {
      String name = e.getKey();
      TensorType want = e.getValue();
      Fed got = fed.get(name);
      String prefix = "input '" + name + "' of " + description + " expects " + want + " but was fed ";
      if (got.dtype() != want.dtype()) {
        throw new InputMismatchException(name, prefix + "a " + got.dtypeName() + " tensor of shape "
            + Arrays.toString(got.shape()) + " (dtype " + got.dtypeName() + " instead of " + want.dtype() + ")");
      }
      if (got.shape().length != want.rank()) {
        throw new InputMismatchException(name, prefix + "shape " + Arrays.toString(got.shape()) + " (rank "
            + got.shape().length + " instead of " + want.rank() + ")");
      }
      for (int i = 0; i < want.rank(); i++) {
        Dim d = want.shape().dim(i);
        long actual = got.shape()[i];
        if (d.isFixed()) {
          if (d.size() != actual) {
            throw new InputMismatchException(name, prefix + "shape " + Arrays.toString(got.shape())
                + " (dimension " + i + " is " + actual + " instead of " + d.size() + ")");
          }
        } else if (!OrtTypes.ANONYMOUS_DIM.equals(d.symbol())) {
          Binding first = bindings.putIfAbsent(d.symbol(), new Binding(name, i, actual, got.shape()));
          if (first != null && first.size() != actual) {
            throw new InputMismatchException(name, "symbolic dimension '" + d.symbol() + "' of " + description
                + " is " + first.size() + " in input '" + first.input() + "' (dimension " + first.axis()
                + " of shape " + Arrays.toString(first.shape()) + ", declared " + inputs.get(first.input())
                + ") but " + actual + " in input '" + name + "' (dimension " + i + " of shape "
                + Arrays.toString(got.shape()) + ", declared " + want + ")");
          }
        }
      }
    }
  }

  private Results runChecked(Map<String, ? extends OnnxTensor> feeds, Set<String> wanted) {
    try {
      return new Results(session.run(feeds, wanted), description);
    } catch (OrtException e) {
      throw new OnnxRuntimeException("ONNX Runtime failed to run " + description + " on " + provider, e);
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the session for " + description + " is closed");
    }
  }

  private static String describe(Map<String, TensorType> types) {
    return types.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
        .collect(Collectors.joining(", ", "[", "]"));
  }
}
