package org.twicing.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import ai.onnxruntime.providers.OrtCUDAProviderOptions;
import ai.onnxruntime.providers.OrtTensorRTProviderOptions;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How to open an ONNX Runtime session: execution provider and its options, thread counts, graph optimisation
 * level, whether an unavailable provider may fall back to CPU, and optional profiling. Immutable; build with
 * {@link #builder()}.
 */
public final class SessionOptionsSpec {
  private final ExecutionProvider provider;
  private final Map<String, String> providerOptions;
  private final int intraOpThreads;
  private final int interOpThreads;
  private final OptLevel optimizationLevel;
  private final boolean fallback;
  private final Path profilingPrefix;
  private final boolean spinning;
  private final boolean transposeOptimizer;

  private SessionOptionsSpec(Builder b) {
    this.spinning = b.spinning;
    this.transposeOptimizer = b.transposeOptimizer;
    this.provider = b.provider;
    this.providerOptions = Collections.unmodifiableMap(new LinkedHashMap<>(b.providerOptions));
    this.intraOpThreads = b.intraOpThreads;
    this.interOpThreads = b.interOpThreads;
    this.optimizationLevel = b.optimizationLevel;
    this.fallback = b.fallback;
    this.profilingPrefix = b.profilingPrefix;
  }

  /** CPU, ONNX Runtime's default thread counts, all graph optimisations, no fallback, no profiling. */
  public static SessionOptionsSpec defaults() {
    return builder().build();
  }

  /** The defaults, but asking for {@code provider}. */
  public static SessionOptionsSpec forProvider(ExecutionProvider provider) {
    return builder().provider(provider).build();
  }

  /** A builder starting from {@link #defaults()}. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from this spec. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.provider = provider;
    b.providerOptions.putAll(providerOptions);
    b.intraOpThreads = intraOpThreads;
    b.interOpThreads = interOpThreads;
    b.optimizationLevel = optimizationLevel;
    b.fallback = fallback;
    b.profilingPrefix = profilingPrefix;
    b.spinning = spinning;
    b.transposeOptimizer = transposeOptimizer;
    return b;
  }

  /**
   * Whether ONNX Runtime's transpose optimizer runs on CPU sessions (default false). It merges chains of Transpose
   * nodes before MatMul fusion, so an attention head's {@code Transpose(0,2,1,3)} followed by Kᵀ's
   * {@code Transpose(0,1,3,2)} becomes one strided {@code Transpose(0,2,3,1)} instead of a fast head transpose and
   * a MatMul with a fused transB; without it our vit-fmnist training step is about 5% faster (BENCHMARKS.md).
   */
  public boolean transposeOptimizer() {
    return transposeOptimizer;
  }

  /**
   * Whether the session's worker threads spin between parallel sections (ONNX Runtime's default, true). Turn it
   * off when several sessions take turns in one process: a spinning idle pool takes the cores from the busy one.
   */
  public boolean spinning() {
    return spinning;
  }

  /** The execution provider asked for. */
  public ExecutionProvider provider() {
    return provider;
  }

  /** Provider-specific options such as {@code device_id} or {@code trt_fp16_enable}, in insertion order. */
  public Map<String, String> providerOptions() {
    return providerOptions;
  }

  /** Threads used inside one operator; 0 lets ONNX Runtime choose. */
  public int intraOpThreads() {
    return intraOpThreads;
  }

  /** Threads used to run independent operators concurrently; 0 lets ONNX Runtime choose. */
  public int interOpThreads() {
    return interOpThreads;
  }

  /** The graph optimisation level ONNX Runtime applies when loading the model. */
  public OptLevel optimizationLevel() {
    return optimizationLevel;
  }

  /** Whether an unavailable provider may be replaced by CPU (with a warning on stderr) instead of failing. */
  public boolean fallback() {
    return fallback;
  }

  /** The file-name prefix ONNX Runtime writes its JSON profile under, when profiling is on. */
  public Optional<Path> profilingPrefix() {
    return Optional.ofNullable(profilingPrefix);
  }

  /**
   * ONNX Runtime session options for this spec; the caller must close them. Throws
   * {@link ProviderUnavailableException} when the provider cannot be used, unless {@link #fallback()} is set, in
   * which case the options are for CPU and a warning goes to stderr.
   */
  public OrtSession.SessionOptions toSessionOptions() {
    return resolve().options();
  }

  /** Session options paired with the provider they actually select (CPU after a fallback). */
  record Resolved(OrtSession.SessionOptions options, ExecutionProvider provider) { }

  /** Like {@link #toSessionOptions()}, also saying which provider was configured. */
  Resolved resolve() {
    if (provider == ExecutionProvider.CPU) {
      return new Resolved(common(true), ExecutionProvider.CPU);
    }
    OrtSession.SessionOptions options = common(false);
    try {
      addProvider(options);
      return new Resolved(options, provider);
    } catch (ProviderUnavailableException e) {
      // Start again from fresh options: a provider may have been half-registered before the failure.
      options.close();
      if (!fallback) {
        throw e;
      }
      warnFallback(e.getMessage());
      return new Resolved(common(true), ExecutionProvider.CPU);
    } catch (RuntimeException e) {
      options.close();
      throw e;
    }
  }

  /** This spec on CPU: the target of a fallback. */
  SessionOptionsSpec onCpu() {
    Builder b = toBuilder().provider(ExecutionProvider.CPU).fallback(false);
    b.providerOptions.clear();
    return b.build();
  }

  /** Prints the fallback warning; kept in one place so every fallback path says the same thing. */
  static void warnFallback(String reason) {
    System.err.println("twicing: WARNING: falling back to the cpu execution provider because fallback=true: "
        + reason);
  }

  /** Options every provider shares; {@code cpu} when the session will run on the CPU provider alone. */
  private OrtSession.SessionOptions common(boolean cpu) {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    try {
      o.setOptimizationLevel(optimizationLevel);
      // ONNX Runtime's warnings (e.g. about initializers it folded away) are noise for users; errors still show.
      o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
      if (intraOpThreads > 0) {
        o.setIntraOpNumThreads(intraOpThreads);
      }
      if (interOpThreads > 0) {
        o.setInterOpNumThreads(interOpThreads);
      }
      if (profilingPrefix != null) {
        o.enableProfiling(profilingPrefix.toString());
      }
      if (!spinning) {
        o.addConfigEntry("session.intra_op.allow_spinning", "0");
        o.addConfigEntry("session.inter_op.allow_spinning", "0");
      }
      if (cpu && !transposeOptimizer) {
        // The generic pass and its CPU-provider instance have separate names; both merge Transpose chains.
        o.addConfigEntry("optimization.disable_specified_optimizers",
            "TransposeOptimizer;TransposeOptimizer_CPUExecutionProvider");
      }
      return o;
    } catch (OrtException e) {
      o.close();
      throw new OnnxRuntimeException("could not apply session options " + this, e);
    }
  }

  private void addProvider(OrtSession.SessionOptions o) {
    EnumSet<OrtProvider> available = OrtEnvironment.getAvailableProviders();
    if (!available.contains(provider.ortProvider())) {
      throw ProviderUnavailableException.notInBuild(provider, available);
    }
    try {
      if (provider == ExecutionProvider.TENSORRT) {
        try (OrtTensorRTProviderOptions trt = new OrtTensorRTProviderOptions()) {
          for (Map.Entry<String, String> e : providerOptions.entrySet()) {
            trt.add(e.getKey(), e.getValue());
          }
          o.addTensorrt(trt);
        }
        // ONNX Runtime's advice: register CUDA after TensorRT so nodes TensorRT rejects run on the same GPU rather
        // than on CPU. This is per-node graph partitioning, not a provider fallback.
        if (available.contains(OrtProvider.CUDA)) {
          try (OrtCUDAProviderOptions cuda = new OrtCUDAProviderOptions()) {
            String device = providerOptions.get("device_id");
            if (device != null) {
              cuda.add("device_id", device);
            }
            o.addCUDA(cuda);
          }
        }
      } else if (provider == ExecutionProvider.CUDA) {
        try (OrtCUDAProviderOptions cuda = new OrtCUDAProviderOptions()) {
          for (Map.Entry<String, String> e : providerOptions.entrySet()) {
            cuda.add(e.getKey(), e.getValue());
          }
          o.addCUDA(cuda);
        }
      } else {
        throw new IllegalStateException("no session setup for execution provider " + provider);
      }
    } catch (OrtException | UnsatisfiedLinkError e) {
      throw ProviderUnavailableException.failedToStart(provider, available, providerOptions.toString(), e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SessionOptionsSpec s && s.provider == provider && s.providerOptions.equals(providerOptions)
        && s.intraOpThreads == intraOpThreads && s.interOpThreads == interOpThreads
        && s.optimizationLevel == optimizationLevel && s.fallback == fallback
        && Objects.equals(s.profilingPrefix, profilingPrefix) && s.spinning == spinning
        && s.transposeOptimizer == transposeOptimizer;
  }

  @Override
  public int hashCode() {
    return Objects.hash(provider, providerOptions, intraOpThreads, interOpThreads, optimizationLevel, fallback,
        profilingPrefix, spinning, transposeOptimizer);
  }

  @Override
  public String toString() {
    return "SessionOptionsSpec{provider=" + provider + ", providerOptions=" + providerOptions + ", intraOpThreads="
        + intraOpThreads + ", interOpThreads=" + interOpThreads + ", optimizationLevel=" + optimizationLevel
        + ", fallback=" + fallback + ", profilingPrefix=" + profilingPrefix + ", spinning=" + spinning
        + ", transposeOptimizer=" + transposeOptimizer + "}";
  }

  /** Builds a {@link SessionOptionsSpec}; every setter validates its argument at once. */
  public static final class Builder {
    private ExecutionProvider provider = ExecutionProvider.CPU;
    private final Map<String, String> providerOptions = new LinkedHashMap<>();
    private int intraOpThreads;
    private int interOpThreads;
    private OptLevel optimizationLevel = OptLevel.ALL_OPT;
    private boolean fallback;
    private Path profilingPrefix;
    private boolean spinning = true;
    private boolean transposeOptimizer;

    private Builder() { }

    /** Sets whether ONNX Runtime's transpose optimizer runs; see {@link SessionOptionsSpec#transposeOptimizer()}. */
    public Builder transposeOptimizer(boolean v) {
      this.transposeOptimizer = v;
      return this;
    }

    /** Sets whether worker threads spin between parallel sections; see {@link SessionOptionsSpec#spinning()}. */
    public Builder spinning(boolean v) {
      this.spinning = v;
      return this;
    }

    /** Asks for {@code p}. */
    public Builder provider(ExecutionProvider p) {
      this.provider = Objects.requireNonNull(p, "execution provider");
      return this;
    }

    /** Asks for the provider named {@code name} ({@code cpu}, {@code cuda}, {@code tensorrt}). */
    public Builder provider(String name) {
      return provider(ExecutionProvider.fromName(name));
    }

    /** Sets one provider option, e.g. {@code trt_fp16_enable=1}; ONNX Runtime validates names when applying them. */
    public Builder providerOption(String key, String value) {
      if (key == null || key.isBlank()) {
        throw new IllegalArgumentException("a provider option needs a non-empty name, got '" + key + "'");
      }
      if (value == null) {
        throw new IllegalArgumentException("provider option '" + key + "' needs a value, got null");
      }
      providerOptions.put(key, value);
      return this;
    }

    /** Sets every entry of {@code options} as a provider option. */
    public Builder providerOptions(Map<String, String> options) {
      options.forEach(this::providerOption);
      return this;
    }

    /** Selects the GPU by index (the {@code device_id} provider option). */
    public Builder deviceId(int id) {
      if (id < 0) {
        throw new IllegalArgumentException("device_id must be >= 0, got " + id);
      }
      return providerOption("device_id", Integer.toString(id));
    }

    /** Threads inside one operator; 0 (the default) lets ONNX Runtime choose. */
    public Builder intraOpThreads(int n) {
      this.intraOpThreads = threads("intraOpThreads", n);
      return this;
    }

    /** Threads across independent operators; 0 (the default) lets ONNX Runtime choose. */
    public Builder interOpThreads(int n) {
      this.interOpThreads = threads("interOpThreads", n);
      return this;
    }

    /** The graph optimisation level (default {@code ALL_OPT}). */
    public Builder optimizationLevel(OptLevel level) {
      this.optimizationLevel = Objects.requireNonNull(level, "optimization level");
      return this;
    }

    /** Whether an unavailable provider may fall back to CPU with a warning (default false: it is an error). */
    public Builder fallback(boolean allow) {
      this.fallback = allow;
      return this;
    }

    /** Turns on ONNX Runtime profiling, writing {@code <prefix>_<timestamp>.json}. */
    public Builder profiling(Path prefix) {
      this.profilingPrefix = Objects.requireNonNull(prefix, "profiling prefix");
      return this;
    }

    /** Turns profiling off (the default). */
    public Builder noProfiling() {
      this.profilingPrefix = null;
      return this;
    }

    /** The spec; fails when provider options are given for cpu, which takes none. */
    public SessionOptionsSpec build() {
      if (provider == ExecutionProvider.CPU && !providerOptions.isEmpty()) {
        throw new IllegalArgumentException("provider options " + providerOptions
            + " were given, but execution provider cpu takes none; they are for cuda or tensorrt");
      }
      return new SessionOptionsSpec(this);
    }

    private static int threads(String what, int n) {
      if (n < 0) {
        throw new IllegalArgumentException(what + " must be >= 0 (0 lets ONNX Runtime choose), got " + n);
      }
      return n;
    }
  }
}
