package org.twicing.models.study;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.twicing.dsl.io.AtomicFile;

/**
 * A line chart of mean ± std bands over seeds, one line per setting, written as PNG: the study's figures
 * (accuracy against attack radius, token similarity against depth).
 */
public final class LinePlot {
  private static final int WIDTH = 760;
  private static final int HEIGHT = 480;
  private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
      new Color(0x9467bd), new Color(0xff7f0e), new Color(0x8c564b)};

  /**
   * One line: its legend label, the x values, and at each x the mean and the standard deviation (NaN: no band).
   */
  public record Series(String label, double[] x, double[] mean, double[] std) { }

  private final String title;
  private final String xLabel;
  private final String yLabel;
  private final List<Series> series = new ArrayList<>();

  /** A chart with a title and axis labels. */
  public LinePlot(String title, String xLabel, String yLabel) {
    this.title = title;
    this.xLabel = xLabel;
    this.yLabel = yLabel;
  }

  /** Adds a line; returns this chart. */
  public LinePlot add(Series s) {
    series.add(s);
    return this;
  }

  /** Renders the chart and writes it to {@code png} atomically. */
  public void write(Path png) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    if (!ImageIO.write(render(), "png", bytes)) {
      throw new IOException("no PNG writer is available in this Java runtime");
    }
    AtomicFile.write(png, bytes.toByteArray());
  }

  /** Draws the chart. */
  BufferedImage render() {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
    double xlo = Double.POSITIVE_INFINITY;
    double xhi = Double.NEGATIVE_INFINITY;
    double ylo = Double.POSITIVE_INFINITY;
    double yhi = Double.NEGATIVE_INFINITY;
    for (Series s : series) {
      for (int i = 0; i < s.x().length; i++) {
        double sd = Double.isNaN(s.std()[i]) ? 0 : s.std()[i];
        xlo = Math.min(xlo, s.x()[i]);
        xhi = Math.max(xhi, s.x()[i]);
        ylo = Math.min(ylo, s.mean()[i] - sd);
        yhi = Math.max(yhi, s.mean()[i] + sd);
      }
    }
    if (!(xhi > xlo)) {
      xlo -= 1;
      xhi += 1;
    }
    if (!(yhi > ylo)) {
      ylo -= 0.5;
      yhi += 0.5;
    }
    double pad = (yhi - ylo) * 0.05;
    ylo -= pad;
    yhi += pad;
    BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, WIDTH, HEIGHT);
      int left = 80;
      int right = WIDTH - 180;
      int top = 50;
      int bottom = HEIGHT - 60;
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
      FontMetrics fm = g.getFontMetrics();
      g.drawString(title, (WIDTH - fm.stringWidth(title)) / 2, 28);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      fm = g.getFontMetrics();
      g.drawRect(left, top, right - left, bottom - top);
      for (int k = 0; k <= 5; k++) {
        double yv = ylo + (yhi - ylo) * k / 5;
        int py = (int) Math.round(bottom - (bottom - top) * (double) k / 5);
        g.setColor(new Color(0xeeeeee));
        g.drawLine(left + 1, py, right - 1, py);
        g.setColor(Color.BLACK);
        String lab = String.format(Locale.ROOT, "%.3f", yv);
        g.drawString(lab, left - 6 - fm.stringWidth(lab), py + 4);
        double xv = xlo + (xhi - xlo) * k / 5;
        int px = (int) Math.round(left + (right - left) * (double) k / 5);
        String xl = String.format(Locale.ROOT, "%.3g", xv);
        g.drawString(xl, px - fm.stringWidth(xl) / 2, bottom + 16);
      }
      g.drawString(xLabel, (left + right - fm.stringWidth(xLabel)) / 2, bottom + 38);
      Graphics2D gy = (Graphics2D) g.create();
      gy.rotate(-Math.PI / 2);
      gy.drawString(yLabel, -(top + bottom + fm.stringWidth(yLabel)) / 2, 20);
      gy.dispose();
      for (int si = 0; si < series.size(); si++) {
        Series s = series.get(si);
        Color c = PALETTE[si % PALETTE.length];
        int n = s.x().length;
        double[] px = new double[n];
        double[] pm = new double[n];
        double[] plo = new double[n];
        double[] phi = new double[n];
        for (int i = 0; i < n; i++) {
          double sd = Double.isNaN(s.std()[i]) ? 0 : s.std()[i];
          px[i] = left + (right - left) * (s.x()[i] - xlo) / (xhi - xlo);
          pm[i] = bottom - (bottom - top) * (s.mean()[i] - ylo) / (yhi - ylo);
          plo[i] = bottom - (bottom - top) * (s.mean()[i] - sd - ylo) / (yhi - ylo);
          phi[i] = bottom - (bottom - top) * (s.mean()[i] + sd - ylo) / (yhi - ylo);
        }
        if (n > 0) {
          Path2D band = new Path2D.Double();
          band.moveTo(px[0], phi[0]);
          for (int i = 1; i < n; i++) {
            band.lineTo(px[i], phi[i]);
          }
          for (int i = n - 1; i >= 0; i--) {
            band.lineTo(px[i], plo[i]);
          }
          band.closePath();
          g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), 50));
          g.fill(band);
          g.setColor(c);
          g.setStroke(new BasicStroke(2f));
          for (int i = 0; i < n; i++) {
            if (i > 0) {
              g.drawLine((int) px[i - 1], (int) pm[i - 1], (int) px[i], (int) pm[i]);
            }
            g.fillOval((int) px[i] - 3, (int) pm[i] - 3, 7, 7);
          }
        }
        g.setStroke(new BasicStroke(1f));
        int ly = top + 10 + si * 20;
        g.fillRect(right + 15, ly - 5, 18, 4);
        g.setColor(Color.BLACK);
        g.drawString(s.label(), right + 40, ly);
      }
    } finally {
      g.dispose();
    }
    return img;
  }
}
