package org.twicing.models.cli;

import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import org.twicing.runtime.ProviderUnavailableException;

/**
 * A failure to report to the user as one line, {@code twicing: error: <message>}, with no stack trace unless
 * {@code --verbose}; the message must name the file, option or value at fault.
 */
public class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int exitCode;

  /** A failure with exit code 1. */
  public CliException(String message) {
    this(message, null, TwicingCli.EXIT_FAILURE);
  }

  /** A failure with exit code 1, keeping {@code cause} for {@code --verbose}. */
  public CliException(String message, Throwable cause) {
    this(message, cause, TwicingCli.EXIT_FAILURE);
  }

  /** A failure with the given exit code, keeping {@code cause} (may be null) for {@code --verbose}. */
  public CliException(String message, Throwable cause, int exitCode) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  /** The process exit code this failure maps to. */
  public int exitCode() {
    return exitCode;
  }

  /**
   * A one-line description of {@code e}: its message, or for file-system errors (whose JDK messages are often
   * just the path) the path plus what went wrong.
   */
  public static String describe(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof ProviderUnavailableException p) {
        // The library's hint names a Java API; on the command line the switch is a flag.
        return p.reason() + " Give --fallback to run on cpu instead.";
      }
    }
    if (e instanceof FileSystemException fse) {
      StringBuilder sb = new StringBuilder(String.valueOf(fse.getFile()));
      if (fse.getOtherFile() != null) {
        sb.append(" -> ").append(fse.getOtherFile());
      }
      sb.append(": ").append(fse.getReason() != null ? fse.getReason() : fileProblem(fse));
      return sb.toString();
    }
    String msg = e.getMessage();
    if (msg == null || msg.isBlank()) {
      return e.getClass().getSimpleName();
    }
    return msg.strip();
  }

  private static String fileProblem(FileSystemException e) {
    if (e instanceof NoSuchFileException) {
      return "no such file or directory";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof NotDirectoryException) {
      return "not a directory";
    }
    if (e instanceof FileAlreadyExistsException) {
      return "already exists";
    }
    return e.getClass().getSimpleName();
  }
}
