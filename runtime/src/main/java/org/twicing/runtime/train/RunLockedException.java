package org.twicing.runtime.train;

import java.io.IOException;
import java.nio.file.Path;

/** A run directory is held by another live training process (or another run in this one). */
public final class RunLockedException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient RunLock.Owner owner;

  /** {@code runDir} is locked through {@code lockFile} by {@code owner} (null when its lock file is empty). */
  public RunLockedException(Path runDir, Path lockFile, RunLock.Owner owner) {
    super(runDir + ": run directory is in use by " + (owner == null ? "another process" : owner) + " (lock file "
        + lockFile + "); wait for that run to finish, or train into another --out");
    this.owner = owner;
  }

  /** The owner named in the lock file, or null when it was empty. */
  public RunLock.Owner owner() {
    return owner;
  }
}
