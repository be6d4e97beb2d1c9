package org.twicing.models.cli;

import picocli.CommandLine.Option;

/** {@code --workers W} and {@code --sync-every K}: how {@code train --spark} spreads its steps over workers. */
public final class DataParallelOptions {
  @Option(names = "--workers", paramLabel = "W", description = "With --spark: split each step's batch over W workers "
      + "(synchronous data parallel; equals single-process training; default: 2).")
  Integer workers;

  @Option(names = "--sync-every", paramLabel = "K", description = "With --spark: local SGD, each worker steps on its "
      + "own replica and the replicas are averaged every K steps (and at evaluations, checkpoints and the end); K "
      + "times less traffic, NOT equal to synchronous training (default: synchronous).")
  Integer syncEvery;

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

  /** {@code --sync-every K}, or 0 for synchronous data parallelism; an error without {@code --spark}. */
  public int syncEvery(DistributedOptions on) {
    if (syncEvery != null && !on.active()) {
      throw new CliException("--sync-every needs --spark MASTER", null, TwicingCli.EXIT_USAGE);
    }
    if (syncEvery != null && syncEvery <= 0) {
      throw new CliException("--sync-every must be positive, got " + syncEvery, null, TwicingCli.EXIT_USAGE);
    }
    return syncEvery == null ? 0 : syncEvery;
  }
}
