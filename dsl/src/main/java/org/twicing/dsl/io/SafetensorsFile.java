package org.twicing.dsl.io;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.NoSuchElementException;
import org.twicing.dsl.types.Tensor;

/** The whole content of a safetensors file held in memory: tensors by name (in header order) and metadata. */
public final class SafetensorsFile {
  private final Path path;
  private final Map<String, Tensor> tensors;
  private final Map<String, String> metadata;

  /** A file's content; the maps are copied, keeping {@code tensors}' iteration order. */
  public SafetensorsFile(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
    this.path = path;
    this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
  }

  /** The file this content was read from. */
  public Path path() {
    return path;
  }

  /** Every tensor, keyed by name, in the order the header lists them; unmodifiable. */
  public Map<String, Tensor> tensors() {
    return tensors;
  }

  /** The string-to-string metadata ({@code __metadata__}); empty when the file has none; unmodifiable. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Tensor {@code name}; fails naming the file and the tensor when there is none. */
  public Tensor tensor(String name) {
    Tensor t = tensors.get(name);
    if (t == null) {
      throw new NoSuchElementException(path + ": no tensor " + HeaderJson.quote(name) + "; it holds "
          + tensors.keySet());
    }
    return t;
  }

  @Override
  public String toString() {
    return "SafetensorsFile(" + path + ", " + tensors.size() + " tensors, metadata " + metadata.keySet() + ")";
  }
}
