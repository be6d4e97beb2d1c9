package org.twicing.models.cli;

import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** {@code --spark MASTER}: run a command's work on Apache Spark (the optional spark module) instead of in-process. */
public final class DistributedOptions {
  @Option(names = "--spark", paramLabel = "MASTER", description = "Run on Apache Spark: local[N], spark://HOST:PORT, "
      + "yarn or k8s://... (needs the spark module; see README 'Scaling out on Apache Spark').")
  String master;

  /** Whether a distributed master was given. */
  public boolean active() {
    return master != null;
  }

  /** A connection to the backend (null when no master was given, so try-with-resources skips it). */
  public DistributedBackend.Cluster connect(PrintWriter out) {
    return master == null ? null : DistributedBackend.find("spark").connect(master, out);
  }
}
