package org.twicing.dsl.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files so that readers only ever see the old content or the complete new content: the bytes go to a
 * temporary file in the same directory, which is forced to disk and closed, then renamed over the target in one
 * atomic step. If writing fails the temporary file is removed and any existing target is left untouched.
 */
public final class AtomicFile {
  private AtomicFile() { }

  /** Produces a file's content on a channel positioned at its start. */
  @FunctionalInterface
  public interface Content {
    /** Writes the whole content to {@code out}. */
    void writeTo(FileChannel out) throws IOException;
  }

  /** Writes {@code target} atomically with exactly {@code bytes}. */
  public static void write(Path target, byte[] bytes) throws IOException {
    write(target, out -> {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        out.write(b);
      }
    });
  }

  /** Writes {@code target} atomically with the bytes {@code content} produces. */
  public static void write(Path target, Content content) throws IOException {
    try (Staged staged = stage(target, content)) {
      staged.commit();
    }
  }

  /**
   * A file written completely (and forced to disk) under a temporary name beside its target, not yet in place:
   * {@link #commit} renames it over the target; {@link #close} removes it unless committed. Staging several files
   * before committing any keeps a set of files consistent (a model and its external data) up to the last rename.
   */
  public static final class Staged implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private boolean committed;

    private Staged(Path target, Path temp) {
      this.target = target;
      this.temp = temp;
    }

    /** Renames the staged file over its target in one step. */
    public void commit() throws IOException {
      Path absolute = target.toAbsolutePath();
      try {
        Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("cannot write " + target + ": the file system of " + absolute.getParent()
            + " does not support atomic rename", e);
      }
      committed = true;
      forceDirectory(absolute.getParent());
    }

    /** Removes the staged file if it was not committed. */
    @Override
    public void close() throws IOException {
      if (!committed) {
        Files.deleteIfExists(temp);
      }
    }
  }

  /** Writes what {@code content} produces to a temporary file beside {@code target}, to be committed later. */
  public static Staged stage(Path target, Content content) throws IOException {
    Path absolute = target.toAbsolutePath();
    Path dir = absolute.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new NoSuchFileException(target.toString(), null, "cannot write: directory " + dir + " does not exist");
    }
    Path temp = createTemp(dir, absolute.getFileName().toString());
    boolean written = false;
    try {
      try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        content.writeTo(out);
        // Force before the rename: otherwise a crash could leave the new name pointing at unwritten blocks.
        out.force(true);
      } catch (IOException e) {
        throw naming(target, e);
      }
      written = true;
      return new Staged(target, temp);
    } finally {
      if (!written) {
        Files.deleteIfExists(temp);
      }
    }
  }

  /**
   * {@code e} with the target named: the JDK reports a full disk or an I/O error as just "No space left on device",
   * which does not say which file could not be written.
   */
  public static IOException naming(Path target, IOException e) {
    String msg = e.getMessage();
    // Only a bare IOException (how the JDK reports ENOSPC and EIO) is wrapped; subclasses carry meaning callers
    // test for (ClosedByInterruptException, FileSystemException naming its file), so they pass unchanged.
    if (e.getClass() != IOException.class || msg != null && msg.contains(target.toString())) {
      return e;
    }
    return new IOException("cannot write " + target + ": " + (msg == null ? e.getClass().getSimpleName() : msg), e);
  }

  /**
   * A fresh, empty file next to the target. Created with ordinary permissions (unlike
   * {@link Files#createTempFile}, which makes it owner-only) because it becomes the target.
   */
  private static Path createTemp(Path dir, String name) throws IOException {
    for (int attempt = 0; ; attempt++) {
      Path temp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
      try {
        Files.newByteChannel(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        return temp;
      } catch (FileAlreadyExistsException e) {
        if (attempt >= 100) {
          throw e;
        }
      }
    }
  }

  /** Persists the rename itself; best effort because not every platform lets a directory be opened. */
  private static void forceDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException ignored) {
      // The data is already durable; only the directory entry's durability is best effort here.
    }
  }
}
