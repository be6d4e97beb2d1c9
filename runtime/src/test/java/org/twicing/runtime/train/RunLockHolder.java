package org.twicing.runtime.train;

import java.nio.file.Path;

/**
 * A separate process for {@link RunDirectoryTest}: takes the lock of the run directory given as its argument,
 * prints {@code locked}, and holds it until its standard input closes (or it is killed).
 */
public final class RunLockHolder {
  private RunLockHolder() { }

  /** Holds the lock of {@code args[0]}. */
  public static void main(String[] args) throws Exception {
    try (RunLock lock = RunLock.acquire(Path.of(args[0]), System.out::println)) {
      System.out.println("locked");
      System.out.flush();
      while (System.in.read() >= 0) {
        // wait for the parent to close our stdin
      }
    }
  }
}
