package org.twicing.models.cli;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.twicing.runtime.train.BatchSource;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;

/**
 * Turns SIGINT (Ctrl-C) and SIGTERM during training into a clean stop: the JVM runs shutdown hooks on those
 * signals, so a hook asks the trainer to stop after the current step and holds the JVM until the checkpoint is
 * written and the resume hint printed; the process then exits with the signal's status (130 or 143).
 */
final class StopOnSignal {
  /** How long a signal waits for the current step and the checkpoint before the JVM exits regardless. */
  private static final long MAX_WAIT_MINUTES = 10;

  private StopOnSignal() { }

  /**
   * Runs {@code trainer} on {@code source}; when a signal stopped it, {@code onStopped} reports the result before
   * the process exits.
   */
  static TrainResult train(Trainer trainer, BatchSource source, Consumer<TrainResult> onStopped)
      throws IOException {
    CountDownLatch finished = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      trainer.requestStop();
      try {
        finished.await(MAX_WAIT_MINUTES, TimeUnit.MINUTES);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "twicing-stop-on-signal");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      TrainResult r = trainer.train(source);
      if (r.stopped()) {
        onStopped.accept(r);
      }
      return r;
    } finally {
      finished.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // The JVM is already shutting down: the hook is running and now returns.
      }
    }
  }
}
