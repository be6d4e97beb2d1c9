package org.twicing.models.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Option;

/**
 * The {@code twicing} command line: a picocli parent command whose work is done by subcommands.
 *
 * <p>To add a subcommand, write a class annotated {@code @Command(name = "...", mixinStandardHelpOptions = true)}
 * that implements {@code Callable<Integer>} (print through {@code spec.commandLine().getOut()}, throw
 * {@link CliException} for user errors), then add it to the {@code subcommands} list below; nothing else
 * registers commands. {@code TwicingCliTest} checks that every registered command answers {@code --help}.
 */
@Command(
    name = "twicing",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    description = "Compile transformer models written in the twicing Java DSL to ONNX, and train and run them.",
    synopsisSubcommandLabel = "COMMAND",
    commandListHeading = "%nCommands:%n",
    footer = {"", "Run 'twicing COMMAND --help' for a command's options."},
    // The one place subcommands are registered: add emit, train, eval, predict, bench, codegen here.
    subcommands = {
        EmitCommand.class,
        InspectCommand.class,
        BenchCommand.class,
        ClasspathCommand.class,
        TrainCommand.class,
        EvalCommand.class,
        AnalyzeCommand.class,
        PredictCommand.class,
        CodegenCommand.class,
        StudyCommand.class,
        ExportWebCommand.class,
        ServeWebCommand.class,
        DeviceCheckCommand.class,
        QuantizeCommand.class,
        ConformanceCommand.class,
        HelpCommand.class,
    })
public final class TwicingCli {

  /** Exit code for a command that ran and failed (bad model file, failed training...). */
  public static final int EXIT_FAILURE = 1;
  /** Exit code for a command line that could not be parsed (unknown option, missing argument). */
  public static final int EXIT_USAGE = 2;

  // Top-level only (twicing -v COMMAND ...): it changes how every command's failures are reported.
  @Option(names = {"-v", "--verbose"}, description = "Print stack traces of errors.")
  boolean verbose;

  /** Whether {@code -v/--verbose} was given before the subcommand. */
  public boolean verbose() {
    return verbose;
  }

  /** A fully configured command line (error handlers, exit codes); tests use it to run commands in-process. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new TwicingCli());
    cl.setExecutionExceptionHandler(new CliErrorHandler());
    cl.setParameterExceptionHandler(new CliUsageErrorHandler());
    cl.setExitCodeExceptionMapper(e -> e instanceof CliException ce ? ce.exitCode() : EXIT_FAILURE);
    // Option values are range-checked before any command runs, so a bad value never loads data first.
    cl.setExecutionStrategy(OptionChecks.before(new CommandLine.RunLast()));
    return cl;
  }

  /** Runs {@code args} and returns the exit code, without calling {@link System#exit}. */
  public static int run(String... args) {
    return execute(commandLine(), args);
  }

  /**
   * Runs {@code args} on {@code cl}; an {@link OutOfMemoryError} (which picocli does not handle) becomes one line
   * with the way to give the JVM more memory, instead of a stack trace.
   */
  public static int execute(CommandLine cl, String... args) {
    try {
      return cl.execute(args);
    } catch (OutOfMemoryError e) {
      PrintWriter err = cl.getErr();
      err.println("twicing: error: out of memory (" + e.getMessage() + ", JVM limit "
          + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB); give the JVM more with -Xmx, e.g. "
          + "TWICING_JAVA_OPTS=-Xmx16g ./twicing ..., or use a smaller --batch");
      err.flush();
      return EXIT_FAILURE;
    }
  }

  /** What a command run in-process printed, and its exit code. */
  public record Captured(int code, String out, String err) { }

  /** Runs {@code args} in-process with standard output and error captured (for tests and embedding). */
  public static Captured capture(String... args) {
    CommandLine cl = commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Captured(code, out.toString(), err.toString());
  }

  /** Entry point used by the {@code twicing} launcher script. */
  public static void main(String[] args) {
    System.exit(run(args));
  }
}
