package org.twicing.dsl.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * describing each tensor (dtype, shape, byte range) plus optional string metadata, then the raw little-endian
 * data. Readers validate everything before returning; writers replace files atomically.
 */
public final class Safetensors {
  /** The header key under which string-to-string metadata is stored. */
  public static final String METADATA_KEY = "__metadata__";

  private Safetensors() { }

  /** Reads every tensor and the metadata of {@code file} into memory. */
  public static SafetensorsFile read(Path file) throws IOException {
    try (SafetensorsReader reader = open(file)) {
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      for (String name : reader.entries().keySet()) {
        tensors.put(name, reader.tensor(name));
      }
      return new SafetensorsFile(file, tensors, reader.metadata());
    }
  }

  /**
   * Opens {@code file}, reading and validating its header (dtypes, shapes against byte ranges, ranges tiling the
   * data exactly) so that later reads of individual tensors cannot meet a malformed layout.
   */
  public static SafetensorsReader open(Path file) throws IOException {
    return SafetensorsReader.open(file);
  }

  /** Writes {@code tensors} and {@code metadata} to {@code file} atomically (temporary file, then rename). */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
    SafetensorsWriter writer = new SafetensorsWriter();
    tensors.forEach(writer::add);
    writer.writeAtomically(file, metadata);
  }

  /** The safetensors dtype code ({@code F32}, {@code BF16}, ...) of {@code dtype}. */
  public static String dtypeCode(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> "F32";
      case FLOAT64 -> "F64";
      case FLOAT16 -> "F16";
      case BFLOAT16 -> "BF16";
      case INT64 -> "I64";
      case INT32 -> "I32";
      case BOOL -> "BOOL";
    };
  }

  /** The dtype of safetensors code {@code code}; fails naming the code and listing the supported ones. */
  public static DType dtypeOf(String code) {
    for (DType t : DType.values()) {
      if (dtypeCode(t).equals(code)) {
        return t;
      }
    }
    throw new IllegalArgumentException("dtype " + HeaderJson.quote(code)
        + " is not supported (supported: F32, F64, F16, BF16, I64, I32, BOOL)");
  }
}
