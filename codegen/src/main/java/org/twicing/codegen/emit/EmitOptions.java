package org.twicing.codegen.emit;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * How a graph is written as an ONNX model: opset and IR version, whether parameters are initializers (inference)
 * or graph inputs (gradient and training-step graphs), producer and metadata. Immutable; use {@link #builder()}.
 */
public final class EmitOptions {
  /** The default opset: 17 has LayerNormalization and is what ONNX Runtime and TensorRT support broadly. */
  public static final int DEFAULT_OPSET = 17;
  /**
   * The newest opset written: the last one {@link #irVersionFor} has an IR version for (IR 11 carries up to opset
   * 23); ONNX Runtime warns that newer stamps are "under development".
   */
  public static final int MAX_OPSET = 23;
  /** The oldest opset written: 17 has LayerNormalization. */
  public static final int MIN_OPSET = 17;
  /** The default IR version, the one that goes with opset 17. */
  public static final int DEFAULT_IR_VERSION = 8;

  private final int opset;
  private final int irVersion;
  private final ParameterMode parameterMode;
  private final String producerName;
  private final String producerVersion;
  private final String docString;
  private final Map<String, String> metadata;
  private final boolean keepFusedOps;

  private EmitOptions(Builder b) {
    this.keepFusedOps = b.keepFusedOps;
    this.opset = b.opset;
    this.irVersion = b.irVersion;
    this.parameterMode = b.parameterMode;
    this.producerName = b.producerName;
    this.producerVersion = b.producerVersion;
    this.docString = b.docString;
    // Sorted: Map.copyOf iterates in an order that changes from one JVM to the next, and the metadata is written
    // in iteration order, so two identical emits would differ byte for byte.
    this.metadata = Collections.unmodifiableMap(new TreeMap<>(b.metadata));
    if (opset < MIN_OPSET) {
      throw new IllegalArgumentException("opset " + opset + " is too old: LayerNormalization needs opset >= 17");
    }
    if (opset > MAX_OPSET) {
      throw new IllegalArgumentException("opset " + opset + " is not supported: expected " + MIN_OPSET + " to "
          + MAX_OPSET);
    }
    if (irVersion < 8) {
      throw new IllegalArgumentException("IR version " + irVersion + " is too old for opset 17 (needs >= 8)");
    }
  }

  /**
   * Defaults: opset 17, IR 8, parameters as initializers (inference models). Training-step graphs refuse these;
   * use {@link #training()}.
   */
  public static EmitOptions defaults() {
    return builder().build();
  }

  /**
   * Defaults with parameters as graph inputs: what gradient and training-step graphs need (their callers feed the
   * parameters and read back the gradients or updates).
   */
  public static EmitOptions training() {
    return builder().parametersAsInputs(true).build();
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these options. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.opset = opset;
    b.irVersion = irVersion;
    b.parameterMode = parameterMode;
    b.producerName = producerName;
    b.producerVersion = producerVersion;
    b.docString = docString;
    b.metadata.putAll(metadata);
    b.keepFusedOps = keepFusedOps;
    return b;
  }

  /** The default-domain opset version imported. */
  public int opset() {
    return opset;
  }

  /** The ONNX IR version. */
  public int irVersion() {
    return irVersion;
  }

  /** How parameters are emitted. */
  public ParameterMode parameterMode() {
    return parameterMode;
  }

  /** Where a graph's parameters go in the emitted model. */
  public enum ParameterMode {
    /** As initializers holding their values (inference models). */
    INITIALIZERS,
    /** As graph inputs (gradient and training-step graphs). */
    INPUTS,
    /** Neither: referenced by name from an enclosing graph (training_info algorithms use the model's). */
    REFERENCED
  }

  /** The producer name written to the model. */
  public String producerName() {
    return producerName;
  }

  /** The producer version written to the model. */
  public String producerVersion() {
    return producerVersion;
  }

  /** The model doc string (empty: the graph's). */
  public String docString() {
    return docString;
  }

  /** Extra metadata_props entries. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * Whether ops with a faster primitive form ({@link org.twicing.dsl.ir.OpDef#primitives}: LayerNormalization,
   * OneHot) are kept as their own ONNX op; by default (false) they are written as primitives, the faster form in
   * ONNX Runtime 1.29 on CPU. Keep them for TensorRT in fp16, whose fused normalization layer avoids the overflow that the
   * primitive form can hit there.
   */
  public boolean keepFusedOps() {
    return keepFusedOps;
  }

  /** Builds {@link EmitOptions}. */
  public static final class Builder {
    private int opset = DEFAULT_OPSET;
    private int irVersion = DEFAULT_IR_VERSION;
    private ParameterMode parameterMode = ParameterMode.INITIALIZERS;
    private String producerName = "twicing";
    private String producerVersion = "0.1.0";
    private String docString = "";
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private boolean keepFusedOps;

    /** Keeps ops with a faster primitive form (LayerNormalization) as their own ONNX op; see {@link #keepFusedOps()}. */
    public Builder keepFusedOps(boolean v) {
      this.keepFusedOps = v;
      return this;
    }

    /** Sets the opset (>= 17); raises the IR version to match when needed. */
    public Builder opset(int v) {
      this.opset = v;
      this.irVersion = Math.max(irVersion, irVersionFor(v));
      return this;
    }

    /** Sets the IR version. */
    public Builder irVersion(int v) {
      this.irVersion = v;
      return this;
    }

    /** Makes parameters graph inputs instead of initializers. */
    public Builder parametersAsInputs(boolean v) {
      this.parameterMode = v ? ParameterMode.INPUTS : ParameterMode.INITIALIZERS;
      return this;
    }

    /** Sets where parameters go. */
    public Builder parameterMode(ParameterMode mode) {
      this.parameterMode = mode;
      return this;
    }

    /** Sets the producer version. */
    public Builder producerVersion(String v) {
      this.producerVersion = v;
      return this;
    }

    /** Sets the model doc string. */
    public Builder docString(String v) {
      this.docString = v;
      return this;
    }

    /** Adds a metadata entry. */
    public Builder metadata(String key, String value) {
      this.metadata.put(key, value);
      return this;
    }

    /** The immutable options. */
    public EmitOptions build() {
      return new EmitOptions(this);
    }
  }

  /** The lowest IR version that can carry a given opset. */
  static int irVersionFor(int opset) {
    if (opset <= 17) {
      return 8;
    }
    if (opset <= 19) {
      return 9;
    }
    if (opset <= 21) {
      return 10;
    }
    return 11;
  }
}
