package org.twicing.models.cli;

import java.io.PrintWriter;
import org.twicing.runtime.ProviderUnavailableException;
import org.twicing.runtime.SessionOptionsSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Where ONNX Runtime runs: the execution provider, CPU fallback, and intra-op threads, shared by run commands. */
public final class ProviderOptions {
  @Option(names = "--provider", paramLabel = "cpu|cuda", defaultValue = "cpu",
      description = "ONNX Runtime execution provider (default cpu).")
  String provider;

  @Option(names = "--fallback", description = "Fall back to the CPU provider (with a warning) when the requested "
      + "one is not available, instead of failing.")
  boolean fallback;

  @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
      description = "Intra-op threads (default 0: one per available processor).")
  int threads;

  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  /** The spec sessions use, decided once: the requested provider, or CPU after a fallback. */
  private SessionOptionsSpec resolved;

  /** The provider sessions run on: the one asked for, or {@code cpu} when it was unavailable and --fallback given. */
  public String provider() {
    return spec().provider().toString();
  }

  /** The intra-op thread count to use: the given one, or one per available processor. */
  public int threads() {
    return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
  }

  /**
   * Session options for these flags. The provider is tried once here: without --fallback an unavailable one fails
   * here, naming the flag; with it, one warning is printed and every session of the command runs on CPU
   * (rather than each session warning again while the output still names the provider asked for).
   */
  public SessionOptionsSpec spec() {
    if (resolved == null) {
      SessionOptionsSpec asked = SessionOptionsSpec.builder().provider(provider).fallback(false)
          .intraOpThreads(threads()).build();
      try {
        asked.toSessionOptions().close();
        resolved = asked;
      } catch (ProviderUnavailableException e) {
        if (!fallback) {
          throw new CliException(CliException.describe(e), e);
        }
        PrintWriter err = command != null ? command.commandLine().getErr()
            : new PrintWriter(System.err, true);
        err.println("twicing: WARNING: --provider " + provider + " is unavailable, running on cpu (--fallback): "
            + e.reason());
        err.flush();
        resolved = SessionOptionsSpec.builder().provider("cpu").intraOpThreads(threads()).build();
      }
    }
    return resolved;
  }
}
