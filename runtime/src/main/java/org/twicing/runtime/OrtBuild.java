package org.twicing.runtime;

import ai.onnxruntime.OrtEnvironment;
import java.net.URL;
import java.security.CodeSource;

/** Facts about the ONNX Runtime jar on the classpath, for error messages that tell the user what to change. */
final class OrtBuild {
  /** Maven groupId of both ONNX Runtime Java artifacts. */
  static final String GROUP_ID = "com.microsoft.onnxruntime";
  /** The CPU-only artifact (the default build). */
  static final String CPU_ARTIFACT = "onnxruntime";
  /** The CUDA/TensorRT artifact (twicing-runtime-gpu brings it; {@code -Pcuda} in this repository). */
  static final String GPU_ARTIFACT = "onnxruntime_gpu";

  private OrtBuild() { }

  /** The artifactId of the ONNX Runtime jar in use, or null when it cannot be told (e.g. a shaded jar). */
  static String artifactId() {
    // The jar's file name is the most direct evidence; the embedded Maven pom is the fallback for renamed jars.
    try {
      CodeSource src = OrtEnvironment.class.getProtectionDomain().getCodeSource();
      if (src != null && src.getLocation() != null) {
        String path = src.getLocation().getPath();
        String file = path.substring(path.lastIndexOf('/') + 1);
        if (file.startsWith(GPU_ARTIFACT + "-")) {
          return GPU_ARTIFACT;
        }
        if (file.startsWith(CPU_ARTIFACT + "-")) {
          return CPU_ARTIFACT;
        }
      }
    } catch (SecurityException e) {
      // Fall through to the resource probe: the protection domain is only a hint.
    }
    ClassLoader cl = OrtEnvironment.class.getClassLoader();
    if (hasPom(cl, GPU_ARTIFACT)) {
      return GPU_ARTIFACT;
    }
    if (hasPom(cl, CPU_ARTIFACT)) {
      return CPU_ARTIFACT;
    }
    return null;
  }

  /** "groupId:artifactId" of the jar in use, or a phrase saying it is unknown. */
  static String coordinates() {
    String a = artifactId();
    return a == null ? "an unidentified ONNX Runtime jar" : GROUP_ID + ":" + a;
  }

  /** The native ONNX Runtime version, e.g. 1.29.0. */
  static String version() {
    return OrtEnvironment.getEnvironment().getVersion();
  }

  private static boolean hasPom(ClassLoader cl, String artifact) {
    URL u = cl == null ? null : cl.getResource("META-INF/maven/" + GROUP_ID + "/" + artifact + "/pom.xml");
    return u != null;
  }
}
