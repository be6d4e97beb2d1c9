package org.twicing.dsl.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Creates a directory so that it appears complete or not at all: its files are written into a temporary sibling,
 * which is renamed into place in one step; a failure removes the temporary directory and leaves the target absent.
 */
public final class AtomicDirectory {
  private AtomicDirectory() { }

  /** Writes the files of a directory being created. */
  @FunctionalInterface
  public interface Content {
    /** Writes every file into {@code dir} (an empty directory). */
    void writeTo(Path dir) throws IOException;
  }

  /**
   * Creates {@code target} (which must not exist, or be an empty directory) with what {@code content} writes;
   * fails naming the target when it exists and holds files.
   */
  public static void create(Path target, Content content) throws IOException {
    Path abs = target.toAbsolutePath();
    if (Files.exists(abs) && !isEmptyDirectory(abs)) {
      throw new IOException(target + ": already exists and is not empty; choose a new directory or remove it");
    }
    Path parent = abs.getParent();
    Files.createDirectories(parent);
    Path tmp = Files.createTempDirectory(parent, "." + abs.getFileName() + ".");
    boolean moved = false;
    try {
      content.writeTo(tmp);
      try {
        // createTempDirectory makes it private (rwx------); the result is an ordinary directory.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system: keep its default permissions
      }
      Files.deleteIfExists(abs);
      Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
      moved = true;
    } finally {
      if (!moved) {
        deleteTree(tmp);
      }
    }
  }

  private static boolean isEmptyDirectory(Path p) throws IOException {
    if (!Files.isDirectory(p)) {
      return false;
    }
    try (Stream<Path> s = Files.list(p)) {
      return s.findAny().isEmpty();
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }
}
