package org.twicing.runtime;

import ai.onnxruntime.OrtProvider;
import java.util.EnumSet;

/**
 * Thrown when the requested execution provider cannot be used: it is not compiled into the ONNX Runtime build on
 * the classpath, or its native libraries could not be loaded. The message names the provider asked for, those the
 * build offers, and what is missing.
 */
public final class ProviderUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The last sentence of every message, for library callers; command lines say what their flag is instead. */
  public static final String FALLBACK_HINT = "Set fallback=true in SessionOptionsSpec to run on cpu instead.";

  /**
   * What to change, for the two kinds of reader: a project that depends on twicing (swap the artifact) and a
   * build of this repository (the profile).
   */
  private static final String GPU_ADVICE = "a Maven project should depend on org.twicing:twicing-runtime-gpu (<type>pom</type>)"
      + " instead of org.twicing:twicing-runtime, which puts " + OrtBuild.GROUP_ID + ":" + OrtBuild.GPU_ARTIFACT
      + " on the classpath in place of " + OrtBuild.CPU_ARTIFACT + " (a build of the twicing repository itself: -Pcuda)";

  private final ExecutionProvider requested;
  private final String available;

  ProviderUnavailableException(ExecutionProvider requested, String available, String message, Throwable cause) {
    super(message, cause);
    this.requested = requested;
    this.available = available;
  }

  /** The message without {@link #FALLBACK_HINT}: what was asked for, what is missing and why. */
  public String reason() {
    String m = getMessage();
    return m.endsWith(" " + FALLBACK_HINT) ? m.substring(0, m.length() - FALLBACK_HINT.length() - 1) : m;
  }

  /** The provider that was asked for. */
  public ExecutionProvider requested() {
    return requested;
  }

  /** The providers this ONNX Runtime build offers, comma separated, as they were when the failure happened. */
  public String available() {
    return available;
  }

  /** The provider is not compiled into the ONNX Runtime jar on the classpath. */
  static ProviderUnavailableException notInBuild(ExecutionProvider requested, EnumSet<OrtProvider> available) {
    String avail = ExecutionProvider.describe(available);
    String artifact = OrtBuild.artifactId();
    String why;
    if (OrtBuild.CPU_ARTIFACT.equals(artifact)) {
      why = "the classpath has the CPU artifact " + OrtBuild.GROUP_ID + ":" + OrtBuild.CPU_ARTIFACT + " "
          + OrtBuild.version() + "; " + GPU_ADVICE + ", and " + libraries(requested)
          + " must be on the library path (LD_LIBRARY_PATH)";
    } else {
      why = "this build uses " + OrtBuild.coordinates() + " " + OrtBuild.version() + ", which was not compiled with "
          + requested + "; " + GPU_ADVICE + ", and " + libraries(requested)
          + " must be on the library path (LD_LIBRARY_PATH)";
    }
    return new ProviderUnavailableException(requested, avail, "execution provider " + requested
        + " was requested but this ONNX Runtime build offers only [" + avail + "]: " + why
        + ". " + FALLBACK_HINT, null);
  }

  /** The provider is compiled in, but ONNX Runtime failed to set it up (libraries, device, or bad options). */
  static ProviderUnavailableException failedToStart(ExecutionProvider requested, EnumSet<OrtProvider> available,
      String options, Throwable cause) {
    String avail = ExecutionProvider.describe(available);
    return new ProviderUnavailableException(requested, avail, "execution provider " + requested
        + " is in this ONNX Runtime build (" + OrtBuild.coordinates() + " " + OrtBuild.version() + "; offers ["
        + avail + "]) but could not be started with options " + options + ": " + cause.getMessage()
        + ". Check that " + libraries(requested) + " are on the library path (LD_LIBRARY_PATH), that a GPU is"
        + " visible (CUDA_VISIBLE_DEVICES, device_id), and that the option names are valid for " + requested
        + ". " + FALLBACK_HINT, cause);
  }

  private static String libraries(ExecutionProvider p) {
    return p == ExecutionProvider.TENSORRT
        ? "the CUDA 12 / cuDNN 9 and TensorRT 10 libraries"
        : "the CUDA 12 / cuDNN 9 libraries";
  }
}
