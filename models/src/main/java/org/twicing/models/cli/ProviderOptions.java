package org.twicing.models.cli;

import org.twicing.runtime.SessionOptionsSpec;
import picocli.CommandLine.Option;

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

  /** The provider's name as given. */
  public String provider() {
    return provider;
  }

  /** The intra-op thread count to use: the given one, or one per available processor. */
  public int threads() {
    return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
  }

  /** Session options for these flags. */
  public SessionOptionsSpec spec() {
    return SessionOptionsSpec.builder().provider(provider).fallback(fallback).intraOpThreads(threads()).build();
  }
}
