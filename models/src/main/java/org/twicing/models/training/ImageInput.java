package org.twicing.models.training;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * Turns an image file (PNG, or anything ImageIO reads) into a model input like Fashion-MNIST's: composited over
 * black, converted to grey, scaled to {@code side x side} with bilinear interpolation, and normalised as
 * {@code (x / 255 - mean) / std}.
 */
public final class ImageInput {
  private ImageInput() { }

  /** Whether to invert grey levels (Fashion-MNIST has light objects on a black background). */
  public enum Invert {
    /** Invert when the image's border is on average light (a light background). */
    AUTO,
    /** Always invert. */
    ON,
    /** Never invert. */
    OFF
  }

  /** A loaded image: normalised pixels, row-major [side, side], and whether it was inverted. */
  public record Loaded(float[] pixels, boolean inverted) { }

  /** The normalised pixels, row-major [side, side], never inverted; errors name the file. */
  public static float[] load(Path file, int side, double mean, double std) throws IOException {
    return load(file, side, mean, std, Invert.OFF).pixels();
  }

  /** The normalised pixels, inverted per {@code invert}; errors name the file. */
  public static Loaded load(Path file, int side, double mean, double std, Invert invert) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, Files.isDirectory(file) ? "is a directory, expected an"
          + " image file" : "image file does not exist");
    }
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
    BufferedImage img;
    try {
      img = ImageIO.read(file.toFile());
    } catch (IOException e) {
      throw new IOException(file + ": cannot read the image: " + e.getMessage(), e);
    }
    if (img == null) {
      throw new IOException(file + ": not an image ImageIO can read (a PNG is expected)");
    }
    BufferedImage grey = grey(img, side);
    boolean inv = invert == Invert.ON || invert == Invert.AUTO && borderMean(grey) > 127;
    if (inv) {
      var raster = grey.getRaster();
      for (int y = 0; y < side; y++) {
        for (int x = 0; x < side; x++) {
          raster.setSample(x, y, 0, 255 - raster.getSample(x, y, 0));
        }
      }
    }
    return new Loaded(normalise(grey, mean, std), inv);
  }

  /** Mean grey level of the outermost pixels. */
  static double borderMean(BufferedImage grey) {
    var r = grey.getRaster();
    int w = grey.getWidth();
    int h = grey.getHeight();
    double sum = 0;
    int n = 0;
    for (int x = 0; x < w; x++) {
      sum += r.getSample(x, 0, 0) + r.getSample(x, h - 1, 0);
      n += 2;
    }
    for (int y = 1; y < h - 1; y++) {
      sum += r.getSample(0, y, 0) + r.getSample(w - 1, y, 0);
      n += 2;
    }
    return sum / n;
  }

  /** {@code img} as {@code side x side} grey bytes. */
  public static BufferedImage grey(BufferedImage img, int side) {
    BufferedImage out = new BufferedImage(side, side, BufferedImage.TYPE_BYTE_GRAY);
    Graphics2D g = out.createGraphics();
    try {
      g.setColor(Color.BLACK);
      g.fillRect(0, 0, side, side);
      g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
      g.drawImage(img, 0, 0, side, side, null);
    } finally {
      g.dispose();
    }
    return out;
  }

  /** The normalised values of a grey image. */
  public static float[] normalise(BufferedImage grey, double mean, double std) {
    int w = grey.getWidth();
    int h = grey.getHeight();
    float[] out = new float[w * h];
    var raster = grey.getRaster();
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int v = raster.getSample(x, y, 0);
        out[y * w + x] = (float) ((v / 255.0 - mean) / std);
      }
    }
    return out;
  }
}
