package org.twicing.runtime.train;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Exclusive ownership of a run directory by one training process: the file {@code RUN/run.lock} holds the
 * owner's pid and host and an operating-system lock while the run is open, and is emptied when the run closes. The
 * OS lock dies with its process, so a non-empty lock file that can be locked was left by a killed run: it is stale
 * and taken over, with a notice naming the dead owner.
 * Readers ({@code eval}, {@code predict}, {@code analyze}) do not lock: every run file is replaced atomically, so
 * they always see a complete old or new file. Taking the lock also removes temporary files that a killed write left
 * in the directory, since no one else can be writing there.
 */
public final class RunLock implements AutoCloseable {
  /** The lock file's name inside a run directory. */
  public static final String FILE_NAME = "run.lock";


  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;

  private RunLock(Path file, FileChannel channel, FileLock lock) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock of {@code runDir} (created if missing) for this process; {@code notices} receives one line when
   * a stale lock is taken over or leftover temporary files are removed.
   *
   * @throws RunLockedException when another live process (or another run in this one) holds the directory
   */
  public static RunLock acquire(Path runDir, Consumer<String> notices) throws IOException {
    Files.createDirectories(runDir);
    Path file = runDir.resolve(FILE_NAME);
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    FileLock lock = null;
    try {
      try {
        lock = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null; // held by another run in this JVM
      }
      if (lock == null) {
        throw new RunLockedException(runDir, file, Owner.read(ch));
      }
      // The file is never deleted (deleting it would let two processes lock two different files of the same name);
      // a clean release empties it, so content found now was left by an owner that died holding it.
      Owner previous = Owner.read(ch);
      if (previous != null) {
        notices.accept("note: taking over the stale lock " + file + " of " + previous
            + ", which is no longer running");
      }
      Owner.current().writeTo(ch);
      removeLeftovers(runDir, notices);
      RunLock held = new RunLock(file, ch, lock);
      ch = null; // owned by the RunLock now
      return held;
    } finally {
      if (ch != null) {
        if (lock != null && lock.isValid()) {
          lock.release();
        }
        ch.close();
      }
    }
  }

  /** Deletes the temporary files of writes that were killed before their rename. */
  private static void removeLeftovers(Path runDir, Consumer<String> notices) throws IOException {
    List<String> removed = new ArrayList<>();
    try (Stream<Path> s = Files.list(runDir)) {
      for (Path p : s.toList()) {
        String name = p.getFileName().toString();
        if (isLeftover(name) && Files.isRegularFile(p)) {
          Files.deleteIfExists(p);
          removed.add(name);
        }
      }
    }
    if (!removed.isEmpty()) {
      notices.accept("note: removed " + removed.size() + " temporary file" + (removed.size() == 1 ? "" : "s")
          + " left in " + runDir + " by an interrupted write: " + String.join(", ", removed));
    }
  }

  /**
   * Whether {@code name} is a temporary file of a run file's atomic write: {@code .NAME.HEX.tmp} (AtomicFile) or
   * {@code .NAMEDIGITS.tmp} (ModelWriter), where NAME is one of {@link RunDirectory#RUN_FILES}.
   */
  static boolean isLeftover(String name) {
    if (!name.startsWith(".") || !name.endsWith(".tmp")) {
      return false;
    }
    for (String f : RunDirectory.RUN_FILES) {
      if (name.startsWith("." + f) && name.substring(1 + f.length(), name.length() - 4).matches("[.0-9a-f-]*")) {
        return true;
      }
    }
    return false;
  }

  /** The lock file. */
  public Path file() {
    return file;
  }

  /** Empties the lock file (marking a clean release) and releases the lock. */
  @Override
  public void close() throws IOException {
    try {
      channel.truncate(0);
      channel.force(true);
    } finally {
      try {
        lock.release();
      } finally {
        channel.close();
      }
    }
  }

  /** Who holds (or held) a lock: process id and host name, as written in the lock file. */
  public record Owner(long pid, String host) {
    /** This process. */
    public static Owner current() {
      String host;
      try {
        host = InetAddress.getLocalHost().getHostName();
      } catch (IOException e) {
        host = Objects.requireNonNullElse(System.getenv("HOSTNAME"), "unknown-host");
      }
      return new Owner(ProcessHandle.current().pid(), host);
    }

    /** The owner recorded in {@code ch}'s file, or null when it is empty. */
    static Owner read(FileChannel ch) throws IOException {
      ByteBuffer b = ByteBuffer.allocate(512);
      ch.read(b, 0);
      String s = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
      String[] parts = s.split("\\s+");
      if (parts.length < 2 || !parts[0].startsWith("pid=") || !parts[1].startsWith("host=")) {
        return s.isEmpty() ? null : new Owner(-1, "unknown (lock file reads '" + s.lines().findFirst().orElse("")
            + "')");
      }
      try {
        return new Owner(Long.parseLong(parts[0].substring(4)), parts[1].substring(5));
      } catch (NumberFormatException e) {
        return new Owner(-1, parts[1].substring(5));
      }
    }

    void writeTo(FileChannel ch) throws IOException {
      ch.truncate(0);
      ch.write(ByteBuffer.wrap(("pid=" + pid + " host=" + host + "\n").getBytes(StandardCharsets.UTF_8)), 0);
      ch.force(true);
    }

    @Override
    public String toString() {
      return pid >= 0 ? "pid " + pid + " on host " + host : "an owner on host " + host;
    }
  }
}
