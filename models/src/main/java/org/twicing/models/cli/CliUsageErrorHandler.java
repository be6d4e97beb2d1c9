package org.twicing.models.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Reports a command line that does not parse as {@code twicing: error: <message>} plus a pointer to the
 * command's {@code --help}, rather than picocli's default of dumping the whole usage text after the error.
 */
public final class CliUsageErrorHandler implements IParameterExceptionHandler {

  /** Prints the error, spelling suggestions and a help hint (the usage when there are no arguments); returns 2. */
  @Override
  public int handleParseException(ParameterException ex, String[] args) {
    CommandLine cmd = ex.getCommandLine();
    PrintWriter err = cmd.getErr();
    if (args.length == 0) {
      // A bare "twicing" is a request for orientation more than a mistake: show what the commands are.
      cmd.usage(err, cmd.getColorScheme());
      err.flush();
      return TwicingCli.EXIT_USAGE;
    }
    err.println(cmd.getColorScheme().errorText("twicing: error: " + ex.getMessage()));
    if (CliErrorHandler.verbose(cmd)) {
      ex.printStackTrace(err);
    }
    UnmatchedArgumentException.printSuggestions(ex, err);
    err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
    err.flush();
    return TwicingCli.EXIT_USAGE;
  }
}
