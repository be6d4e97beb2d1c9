package org.twicing.models.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/**
 * Reports an exception thrown by a command as {@code twicing: error: <message>} and maps it to an exit code;
 * the stack trace is printed only under {@code twicing --verbose}, because users mostly need the message.
 */
public final class CliErrorHandler implements IExecutionExceptionHandler {

  /** Prints the one-line error (plus stack trace when verbose) and returns the exit code. */
  @Override
  public int handleExecutionException(Exception ex, CommandLine cmd, ParseResult parseResult) {
    PrintWriter err = cmd.getErr();
    String message = ex instanceof CliException ? ex.getMessage() : CliException.describe(ex);
    err.println(cmd.getColorScheme().errorText("twicing: error: " + message));
    if (verbose(cmd)) {
      ex.printStackTrace(err);
    }
    err.flush();
    return cmd.getExitCodeExceptionMapper() != null ? cmd.getExitCodeExceptionMapper().getExitCode(ex)
        : cmd.getCommandSpec().exitCodeOnExecutionException();
  }

  /** Whether the top-level {@code --verbose} flag is set for the command line that {@code cmd} belongs to. */
  static boolean verbose(CommandLine cmd) {
    Object root = cmd.getCommandSpec().root().userObject();
    return root instanceof TwicingCli cli && cli.verbose();
  }
}
