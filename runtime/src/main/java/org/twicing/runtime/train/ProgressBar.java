package org.twicing.runtime.train;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A one-line terminal progress bar (step, bar, loss, lr, samples/s, ETA) redrawn in place with carriage returns;
 * when disabled it draws nothing. Other lines are printed through {@link #println} so they do not collide with it.
 */
final class ProgressBar {
  private static final long MIN_REDRAW_NANOS = 100_000_000L;
  private static final int WIDTH = 24;

  private final PrintWriter out;
  private final boolean enabled;
  private final long total;
  private long lastDraw;
  private int lastLength;

  ProgressBar(PrintWriter out, boolean enabled, long total) {
    this.out = out;
    this.enabled = enabled;
    this.total = total;
  }

  boolean enabled() {
    return enabled;
  }

  void update(long step, double loss, double lr, double samplesPerSecond, double etaSeconds, boolean force) {
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    if (!force && now - lastDraw < MIN_REDRAW_NANOS) {
      return;
    }
    lastDraw = now;
    int filled = (int) Math.min(WIDTH, WIDTH * step / Math.max(1, total));
    String bar = "#".repeat(filled) + ".".repeat(WIDTH - filled);
    String line = String.format(Locale.ROOT, "step %d/%d [%s] %3d%%  loss %.4f  lr %.2e  %.1f samples/s  eta %s",
        step, total, bar, 100 * step / Math.max(1, total), loss, lr, samplesPerSecond, duration(etaSeconds));
    draw(line);
  }

  private void draw(String line) {
    StringBuilder sb = new StringBuilder("\r").append(line);
    for (int i = line.length(); i < lastLength; i++) {
      sb.append(' ');
    }
    lastLength = line.length();
    out.print(sb);
    out.flush();
  }

  /** Prints a full line above the bar (or just the line when disabled). */
  void println(String line) {
    if (enabled && lastLength > 0) {
      out.print("\r" + " ".repeat(lastLength) + "\r");
      lastLength = 0;
      lastDraw = 0;
    }
    out.println(line);
    out.flush();
  }

  /** Ends the bar's line. */
  void finish() {
    if (enabled && lastLength > 0) {
      out.println();
      lastLength = 0;
    }
    out.flush();
  }

  static String duration(double seconds) {
    if (!Double.isFinite(seconds) || seconds < 0) {
      return "?";
    }
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}
