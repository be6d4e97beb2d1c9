package org.twicing.spark;

import java.util.Locale;

/**
 * Where data-parallel step time goes, summed over steps (driver side): preparing the step (copying parameters
 * out, splitting the batch, broadcasting), the Spark job (scheduling, shipping, the workers' compute, gradient
 * exchange), of which the slowest task's ONNX Runtime time is the compute, and the driver's optimizer update;
 * with the gradient bytes workers send and the parameter bytes they receive.
 */
public final class StepTimes {
  private long steps;
  private long prepareNanos;
  private long jobNanos;
  private long computeNanos;
  private long applyNanos;
  private long gradientBytes;
  private long parameterBytes;

  /** Adds one step's measurements. */
  synchronized void add(long prepare, long job, long compute, long applyTime, long gradBytes, long paramBytes) {
    steps++;
    prepareNanos += prepare;
    jobNanos += job;
    computeNanos += compute;
    applyNanos += applyTime;
    gradientBytes += gradBytes;
    parameterBytes += paramBytes;
  }

  /** Steps measured. */
  public synchronized long steps() {
    return steps;
  }

  /** Mean milliseconds per step of: prepare, job, compute (slowest task), job minus compute, apply. */
  public synchronized double[] meanMillis() {
    double s = Math.max(1, steps) * 1e6;
    return new double[] {prepareNanos / s, jobNanos / s, computeNanos / s, (jobNanos - computeNanos) / s,
        applyNanos / s};
  }

  /** Mean gradient bytes sent by all workers per step. */
  public synchronized double gradientBytesPerStep() {
    return gradientBytes / (double) Math.max(1, steps);
  }

  /** Mean parameter bytes received by all workers per step. */
  public synchronized double parameterBytesPerStep() {
    return parameterBytes / (double) Math.max(1, steps);
  }

  @Override
  public synchronized String toString() {
    double[] m = meanMillis();
    return String.format(Locale.ROOT, "%d steps; per step: prepare %.1f ms, Spark job %.1f ms (compute %.1f ms, "
        + "scheduling and exchange %.1f ms), apply %.1f ms; %.0f gradient bytes sent, %.0f parameter bytes "
        + "received", steps, m[0], m[1], m[2], m[3], m[4], gradientBytesPerStep(), parameterBytesPerStep());
  }
}
