package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.ServiceLoader;
import org.twicing.models.training.TrainingData;
import org.twicing.runtime.train.StepRunner;

/**
 * A distributed engine that {@code train}, {@code eval} and {@code predict} can run on, found on the class path
 * with {@link ServiceLoader} (the spark module provides one named {@code spark}), so that this module compiles and
 * runs without it. Commands reach it through {@link DistributedOptions}.
 */
public interface DistributedBackend {
  /** The backend's name, as the option that selects it ({@code spark} for {@code --spark MASTER}). */
  String name();

  /** Connects to {@code master} (e.g. {@code local[4]}, {@code spark://host:7077}, {@code yarn}). */
  Cluster connect(String master, PrintWriter out);

  /** A connection to the engine for one command; closing it releases what the command started. */
  interface Cluster extends AutoCloseable {
    /**
     * Computes training steps data-parallel over {@code workers} workers: synchronous (equal to one process) when
     * {@code syncEvery} is 0, else local SGD averaging the workers' replicas every {@code syncEvery} steps.
     */
    StepRunner.Factory trainSteps(int workers, int syncEvery);

    /**
     * Evaluates {@code run} on {@code data} distributed, with the metrics (names and meaning) of the single-process
     * evaluation of the same data, so that {@code Evaluation#summary} prints them.
     */
    Map<String, Double> evaluate(Path run, TrainingData data, int batch) throws IOException;

    /** Scores {@code input} (images, or a Parquet data set) with {@code run} into the Parquet {@code output}; rows written. */
    long predict(Path run, Path input, Path output, int batch) throws IOException;

    /** Where the work runs, for logs. */
    String describe();

    @Override
    void close();
  }

  /** The backend named {@code name} on the class path; a clear error when none is. */
  static DistributedBackend find(String name) {
    for (DistributedBackend b : ServiceLoader.load(DistributedBackend.class)) {
      if (b.name().equals(name)) {
        return b;
      }
    }
    throw new CliException("--" + name + " needs the twicing-" + name + " module on the class path: build it "
        + "(mvn -pl " + name + " -am package) and run ./twicing, which adds it, or use the " + name
        + " application jar", null, TwicingCli.EXIT_USAGE);
  }
}
