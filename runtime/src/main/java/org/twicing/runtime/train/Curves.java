package org.twicing.runtime.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.twicing.dsl.io.AtomicFile;

/**
 * Draws a run's learning curves as a PNG with Java2D (headless): training loss against step in the upper panel and
 * the headline evaluation metric against step in the lower one, each with axes, ticks and labels.
 */
public final class Curves {
  /** The file name inside a run directory. */
  public static final String FILE_NAME = "curves.png";

  private static final int WIDTH = 960;
  private static final int PANEL_HEIGHT = 360;
  private static final Color LOSS_RAW = new Color(120, 160, 220);
  private static final Color LOSS_SMOOTH = new Color(20, 70, 160);
  private static final Color METRIC = new Color(200, 80, 20);

  private Curves() { }

  /** A point of a curve. */
  public record Point(double step, double value) { }

  /**
   * Writes the curves of {@code records} (as in {@code metrics.jsonl}) to {@code png} atomically; {@code metric} is
   * the key of the evaluation metric to plot (e.g. {@code eval_accuracy}), or null for none.
   */
  public static void write(Path png, List<Map<String, Double>> records, String metric, String title)
      throws IOException {
    List<Point> loss = new ArrayList<>();
    List<Point> eval = new ArrayList<>();
    for (Map<String, Double> r : records) {
      Double step = r.get("step");
      if (step == null) {
        continue;
      }
      Double l = r.get("loss");
      if (l != null && Double.isFinite(l)) {
        loss.add(new Point(step, l));
      }
      Double m = metric == null ? null : r.get(metric);
      if (m != null && Double.isFinite(m)) {
        eval.add(new Point(step, m));
      }
    }
    BufferedImage img = render(loss, metric, eval, title);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    if (!ImageIO.write(img, "png", bytes)) {
      throw new IOException("no PNG writer is available in this Java runtime");
    }
    byte[] data = bytes.toByteArray();
    AtomicFile.write(png, ch -> {
      ByteBuffer b = ByteBuffer.wrap(data);
      while (b.hasRemaining()) {
        ch.write(b);
      }
    });
  }

  /** Renders the two panels. */
  static BufferedImage render(List<Point> loss, String metric, List<Point> eval, String title) {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
    BufferedImage img = new BufferedImage(WIDTH, 2 * PANEL_HEIGHT + 40, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, img.getWidth(), img.getHeight());
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
      FontMetrics fm = g.getFontMetrics();
      String t = title == null ? "training curves" : title;
      g.drawString(t, (WIDTH - fm.stringWidth(t)) / 2, 26);
      double maxStep = 1;
      for (Point p : loss) {
        maxStep = Math.max(maxStep, p.step());
      }
      for (Point p : eval) {
        maxStep = Math.max(maxStep, p.step());
      }
      panel(g, 40, "training loss", "loss", loss, smooth(loss), LOSS_RAW, LOSS_SMOOTH, maxStep, false);
      String name = metric == null ? "evaluation" : metric.replaceFirst("^eval_", "");
      panel(g, 40 + PANEL_HEIGHT, "evaluation: " + name, name, eval, null, METRIC, null, maxStep, true);
    } finally {
      g.dispose();
    }
    return img;
  }

  private static void panel(Graphics2D g, int top, String heading, String yLabel, List<Point> pts,
      List<Point> smooth, Color color, Color smoothColor, double maxStep, boolean markers) {
    int left = 90;
    int right = WIDTH - 30;
    int plotTop = top + 30;
    int plotBottom = top + PANEL_HEIGHT - 60;
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
    g.setColor(Color.BLACK);
    g.drawString(heading, left, top + 20);
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (Point p : pts) {
      lo = Math.min(lo, p.value());
      hi = Math.max(hi, p.value());
    }
    if (pts.isEmpty()) {
      lo = 0;
      hi = 1;
    }
    if (hi - lo < 1e-9) {
      double pad = Math.max(Math.abs(hi) * 0.05, 1e-3);
      lo -= pad;
      hi += pad;
    }
    double[] yTicks = ticks(lo, hi, 6);
    lo = Math.min(lo, yTicks[0]);
    hi = Math.max(hi, yTicks[yTicks.length - 1]);
    double[] xTicks = ticks(0, maxStep, 8);
    double xMax = Math.max(maxStep, xTicks[xTicks.length - 1]);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    g.setStroke(new BasicStroke(1f));
    FontMetrics fm = g.getFontMetrics();
    // grid and tick labels
    for (double y : yTicks) {
      int py = (int) Math.round(plotBottom - (y - lo) / (hi - lo) * (plotBottom - plotTop));
      g.setColor(new Color(230, 230, 230));
      g.drawLine(left, py, right, py);
      g.setColor(Color.BLACK);
      g.drawLine(left - 4, py, left, py);
      String s = format(y);
      g.drawString(s, left - 8 - fm.stringWidth(s), py + fm.getAscent() / 2 - 1);
    }
    for (double x : xTicks) {
      int px = (int) Math.round(left + x / xMax * (right - left));
      g.setColor(new Color(230, 230, 230));
      g.drawLine(px, plotTop, px, plotBottom);
      g.setColor(Color.BLACK);
      g.drawLine(px, plotBottom, px, plotBottom + 4);
      String s = format(x);
      g.drawString(s, px - fm.stringWidth(s) / 2, plotBottom + 6 + fm.getAscent());
    }
    g.setColor(Color.BLACK);
    g.setStroke(new BasicStroke(1.2f));
    g.drawLine(left, plotTop, left, plotBottom);
    g.drawLine(left, plotBottom, right, plotBottom);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    fm = g.getFontMetrics();
    g.drawString("step", (left + right - fm.stringWidth("step")) / 2, plotBottom + 36);
    AffineTransform saved = g.getTransform();
    g.rotate(-Math.PI / 2);
    g.drawString(yLabel, -(plotTop + plotBottom + fm.stringWidth(yLabel)) / 2, left - 62);
    g.setTransform(saved);
    if (pts.isEmpty()) {
      g.setColor(Color.GRAY);
      String s = "no data";
      g.drawString(s, (left + right - fm.stringWidth(s)) / 2, (plotTop + plotBottom) / 2);
      return;
    }
    drawLine(g, pts, color, 1f, left, right, plotTop, plotBottom, xMax, lo, hi, markers);
    if (smooth != null && smoothColor != null && pts.size() > 20) {
      drawLine(g, smooth, smoothColor, 2f, left, right, plotTop, plotBottom, xMax, lo, hi, false);
    }
  }

  private static void drawLine(Graphics2D g, List<Point> pts, Color color, float width, int left, int right,
      int top, int bottom, double xMax, double lo, double hi, boolean markers) {
    g.setColor(color);
    g.setStroke(new BasicStroke(width));
    Path2D.Double path = new Path2D.Double();
    boolean first = true;
    for (Point p : pts) {
      double px = left + p.step() / xMax * (right - left);
      double py = bottom - (p.value() - lo) / (hi - lo) * (bottom - top);
      if (first) {
        path.moveTo(px, py);
        first = false;
      } else {
        path.lineTo(px, py);
      }
      if (markers) {
        g.fillOval((int) Math.round(px) - 3, (int) Math.round(py) - 3, 7, 7);
      }
    }
    g.draw(path);
  }

  /** A centred moving average of the loss (window about 1/25 of the run), to show the trend under the noise. */
  private static List<Point> smooth(List<Point> pts) {
    List<Point> out = new ArrayList<>(pts.size());
    int half = Math.max(1, pts.size() / 50);
    double[] prefix = new double[pts.size() + 1];
    for (int i = 0; i < pts.size(); i++) {
      prefix[i + 1] = prefix[i] + pts.get(i).value();
    }
    for (int i = 0; i < pts.size(); i++) {
      int lo = Math.max(0, i - half);
      int hi = Math.min(pts.size(), i + half + 1);
      out.add(new Point(pts.get(i).step(), (prefix[hi] - prefix[lo]) / (hi - lo)));
    }
    return out;
  }

  /** Round tick values covering [lo, hi]. */
  static double[] ticks(double lo, double hi, int target) {
    double span = hi - lo;
    double raw = span / Math.max(1, target);
    double mag = Math.pow(10, Math.floor(Math.log10(raw)));
    double step = mag;
    for (double m : new double[] {1, 2, 2.5, 5, 10}) {
      if (mag * m >= raw) {
        step = mag * m;
        break;
      }
    }
    double start = Math.floor(lo / step) * step;
    double end = Math.ceil(hi / step) * step;
    int n = (int) Math.round((end - start) / step) + 1;
    double[] out = new double[Math.max(2, n)];
    for (int i = 0; i < out.length; i++) {
      out[i] = start + i * step;
    }
    return out;
  }

  private static String format(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e7) {
      return Long.toString((long) v);
    }
    double a = Math.abs(v);
    if (a >= 0.01 && a < 1e5) {
      String s = String.format(Locale.ROOT, "%.3f", v);
      s = s.replaceAll("0+$", "");
      return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }
    return String.format(Locale.ROOT, "%.2g", v);
  }
}
