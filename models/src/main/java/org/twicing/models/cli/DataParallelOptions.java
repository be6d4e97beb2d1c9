package org.twicing.models.cli;

import picocli.CommandLine.Option;

/** {@code --workers W}: how many data-parallel workers share each step of {@code train --spark}. */
public final class DataParallelOptions {
  @Option(names = "--workers", paramLabel = "W", description = "With --spark: split each step's batch over W workers "
      + "(synchronous data parallel; equals single-process training; default: 2).")
  Integer workers;

  /** The worker count; an error without {@code --spark}, where it would mean nothing. */
  public int workers(DistributedOptions on) {
    if (workers != null && !on.active()) {
      throw new CliException("--workers needs --spark MASTER", null, TwicingCli.EXIT_USAGE);
    }
    if (workers != null && workers <= 0) {
      throw new CliException("--workers must be positive, got " + workers, null, TwicingCli.EXIT_USAGE);
    }
    return workers == null ? 2 : workers;
  }
}
