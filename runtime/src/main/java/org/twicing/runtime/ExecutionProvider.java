package org.twicing.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.stream.Collectors;

/** The ONNX Runtime execution providers twicing can ask for, by the short names used on command lines and in configs. */
public enum ExecutionProvider {
  /** ONNX Runtime's default CPU provider, present in every build. */
  CPU("cpu", OrtProvider.CPU),
  /** NVIDIA CUDA; needs the onnxruntime_gpu artifact plus CUDA and cuDNN libraries. */
  CUDA("cuda", OrtProvider.CUDA),
  /** NVIDIA TensorRT; needs the onnxruntime_gpu artifact plus CUDA, cuDNN and TensorRT libraries. */
  TENSORRT("tensorrt", OrtProvider.TENSOR_RT);

  private final String shortName;
  private final OrtProvider ortProvider;

  ExecutionProvider(String shortName, OrtProvider ortProvider) {
    this.shortName = shortName;
    this.ortProvider = ortProvider;
  }

  /** Parses {@code cpu}, {@code cuda} or {@code tensorrt} (case and surrounding blanks ignored). */
  public static ExecutionProvider fromName(String name) {
    if (name != null) {
      String wanted = name.trim().toLowerCase(Locale.ROOT);
      for (ExecutionProvider p : values()) {
        if (p.shortName.equals(wanted)) {
          return p;
        }
      }
    }
    throw new IllegalArgumentException("unknown execution provider '" + name + "'; valid names are "
        + Arrays.stream(values()).map(ExecutionProvider::shortName).collect(Collectors.joining(", ")));
  }

  /** The short lower-case name ({@code cpu}, {@code cuda}, {@code tensorrt}). */
  public String shortName() {
    return shortName;
  }

  /** The matching ONNX Runtime provider constant. */
  public OrtProvider ortProvider() {
    return ortProvider;
  }

  /** Whether the ONNX Runtime build on the classpath was compiled with this provider (its libraries may still be missing). */
  public boolean isInThisBuild() {
    return OrtEnvironment.getAvailableProviders().contains(ortProvider);
  }

  /** Short names of the providers compiled into this ONNX Runtime build, ours by our names and others by ORT's. */
  public static String describeAvailable() {
    return describe(OrtEnvironment.getAvailableProviders());
  }

  static String describe(EnumSet<OrtProvider> available) {
    return available.stream().map(ExecutionProvider::nameOf).collect(Collectors.joining(", "));
  }

  private static String nameOf(OrtProvider p) {
    for (ExecutionProvider e : values()) {
      if (e.ortProvider == p) {
        return e.shortName;
      }
    }
    return p.getName();
  }

  @Override
  public String toString() {
    return shortName;
  }
}
