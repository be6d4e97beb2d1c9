package org.twicing.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.SessionOptionsSpec;

/**
 * The ONNX Runtime sessions of one executor JVM, one per model (by content hash) and session options: tasks of the
 * same job, and of later jobs, reuse the session instead of loading the model per row, partition or step. Sessions
 * are thread-safe for concurrent runs, so the tasks running at once in one executor share one. They live as long
 * as the JVM (an executor's lifetime); {@link #closeAll()} frees them early (tests, the driver at exit).
 */
public final class ExecutorSessions {
  private static final Map<String, ModelSession> SESSIONS = new ConcurrentHashMap<>();
  private static final AtomicInteger OPENED = new AtomicInteger();

  private ExecutorSessions() { }

  /** The session for {@code model} in this JVM, opened from its broadcast bytes on first use. */
  public static ModelSession get(ModelRef model) {
    return SESSIONS.computeIfAbsent(model.key(), k -> {
      OPENED.incrementAndGet();
      return ModelSession.open(model.bytes(), options(model.provider(), model.threads()));
    });
  }

  /** How many sessions this JVM has opened since it started (what the one-session-per-JVM test checks). */
  public static int opened() {
    return OPENED.get();
  }

  /** Closes every cached session of this JVM. */
  public static synchronized void closeAll() {
    SESSIONS.values().forEach(ModelSession::close);
    SESSIONS.clear();
  }

  static SessionOptionsSpec options(String provider, int threads) {
    return SessionOptionsSpec.builder().provider(provider).intraOpThreads(Math.max(1, threads)).build();
  }
}
