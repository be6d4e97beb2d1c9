package org.twicing.codegen.bindings;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import org.twicing.dsl.io.AtomicFile;

/**
 * One generated Java source file, independent of the library that generated it: the class's package and simple
 * name and the file's text.
 */
public record GeneratedSource(String packageName, String simpleName, String text) {
  /** Validates that every part is present. */
  public GeneratedSource {
    Objects.requireNonNull(packageName, "packageName");
    Objects.requireNonNull(simpleName, "simpleName");
    Objects.requireNonNull(text, "text");
  }

  /** The fully qualified class name. */
  public String qualifiedName() {
    return packageName.isEmpty() ? simpleName : packageName + "." + simpleName;
  }

  /** The file's path relative to a source root: {@code com/example/VitFmnist.java}. */
  public Path relativePath() {
    Path file = Path.of(simpleName + ".java");
    return packageName.isEmpty() ? file : Path.of(packageName.replace('.', '/')).resolve(file);
  }

  /** Writes the file under source root {@code root} (atomically, creating package directories) and returns it. */
  public Path writeTo(Path root) throws IOException {
    Path file = root.resolve(relativePath());
    Files.createDirectories(file.getParent());
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    AtomicFile.write(file, out -> {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        out.write(b);
      }
    });
    return file;
  }
}
