package org.twicing.spark;

import java.io.Serializable;
import java.util.Locale;

/**
 * How data-parallel training runs on Spark: the number of workers (Spark tasks per step, each computing the
 * gradient of one shard of the global batch), the depth of the tree aggregation that sums their gradients,
 * the executor sessions' intra-op threads, and a test hook that fails one task once.
 *
 * @param workers Spark tasks per step (the global batch is split into this many shards)
 * @param treeDepth depth of {@code treeReduce} (2: executors pre-sum groups of about √W partial sums)
 * @param threads intra-op threads of each executor's ONNX Runtime session (1 matches one task per core)
 * @param failOnceAtStep when positive, the first attempt of shard 0's task at this step throws (tests that Spark's
 *     retry leaves the result unchanged); read from the system property {@value #FAIL_ONCE_PROPERTY} by
 *     {@link #of(int)}
 */
public record DataParallel(int workers, int treeDepth, int threads, long failOnceAtStep) implements Serializable {
  /** System property naming a step whose shard-0 task fails on its first attempt (fault-injection tests). */
  public static final String FAIL_ONCE_PROPERTY = "twicing.spark.failOnceAtStep";

  /** Validates the settings. */
  public DataParallel {
    if (workers <= 0) {
      throw new IllegalArgumentException("--workers must be positive, got " + workers);
    }
    if (treeDepth < 1) {
      throw new IllegalArgumentException("tree aggregation depth must be >= 1, got " + treeDepth);
    }
    if (threads <= 0) {
      throw new IllegalArgumentException("executor intra-op threads must be positive, got " + threads);
    }
  }

  /** {@code workers} tasks, tree depth 2, one intra-op thread per task, fault injection from the system property. */
  public static DataParallel of(int workers) {
    return new DataParallel(workers, 2, 1, Long.getLong(FAIL_ONCE_PROPERTY, 0L));
  }

  /** The same with {@code n} intra-op threads per executor session. */
  public DataParallel withThreads(int n) {
    return new DataParallel(workers, treeDepth, n, failOnceAtStep);
  }

  /** A short description for logs. */
  public String describe() {
    return String.format(Locale.ROOT, "%d workers (synchronous data parallel, treeReduce depth %d)", workers,
        treeDepth);
  }
}
