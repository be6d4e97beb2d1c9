package org.twicing.models.data;

import java.io.IOException;
import java.util.Arrays;
import java.util.Objects;

/**
 * An immutable set of single-channel uint8 images with integer class labels, plus the mean and standard deviation
 * used to normalise pixels ({@code (x/255 - mean) / std}) into the float32 model inputs of shape [n, 1, rows, cols].
 * Pixels stay as bytes (a quarter of the memory of floats) and are normalised when copied out.
 */
public final class LabeledImages {
  private final String source;
  private final int count;
  private final int rows;
  private final int cols;
  private final byte[] pixels;
  private final byte[] labels;
  private final double mean;
  private final double std;
  private final float[] normalized = new float[256];

  private LabeledImages(String source, int count, int rows, int cols, byte[] pixels, byte[] labels, double mean,
      double std) {
    this.source = source;
    this.count = count;
    this.rows = rows;
    this.cols = cols;
    this.pixels = pixels;
    this.labels = labels;
    this.mean = mean;
    this.std = std;
    for (int x = 0; x < 256; x++) {
      // Computed in double and rounded once, so every path to a normalised pixel gives the same float.
      normalized[x] = (float) ((x / 255.0 - mean) / std);
    }
  }

  /**
   * Pairs an images file with its labels file; fails naming both files when their counts differ or when a
   * label is not below {@code numClasses}.
   */
  public static LabeledImages fromIdx(IdxFile images, IdxFile labels, int numClasses, double mean, double std)
      throws IOException {
    images.requireMagic(IdxFile.IMAGES_MAGIC);
    labels.requireMagic(IdxFile.LABELS_MAGIC);
    if (images.count() != labels.count()) {
      throw new IOException("image/label count mismatch: " + images.source() + " has " + images.count()
          + " images but " + labels.source() + " has " + labels.count() + " labels");
    }
    byte[] l = labels.bytesUnsafe();
    for (int i = 0; i < l.length; i++) {
      if ((l[i] & 0xff) >= numClasses) {
        throw new IOException(labels.source() + ": label " + i + " is " + (l[i] & 0xff) + ", expected a class in"
            + " 0.." + (numClasses - 1));
      }
    }
    int[] d = images.dims();
    return new LabeledImages(images.source() + " + " + labels.source(), d[0], d[1], d[2],
        images.bytesUnsafe(), l, mean, std);
  }

  /** Images from raw row-major uint8 {@code pixels} [n, rows, cols] and uint8 {@code labels} [n] (both copied). */
  public static LabeledImages of(String source, int rows, int cols, byte[] pixels, byte[] labels, double mean,
      double std) {
    Objects.requireNonNull(source, "source");
    if (rows <= 0 || cols <= 0 || (long) labels.length * rows * cols != pixels.length) {
      throw new IllegalArgumentException(source + ": " + pixels.length + " pixel bytes are not " + labels.length
          + " images of " + rows + "x" + cols);
    }
    if (!(std > 0)) {
      throw new IllegalArgumentException(source + ": normalisation std must be positive, got " + std);
    }
    return new LabeledImages(source, labels.length, rows, cols, pixels.clone(), labels.clone(), mean, std);
  }

  /** Where the images came from, for messages and logs. */
  public String source() {
    return source;
  }

  /** Number of images. */
  public int size() {
    return count;
  }

  /** Image height in pixels. */
  public int rows() {
    return rows;
  }

  /** Image width in pixels. */
  public int cols() {
    return cols;
  }

  /** Pixels per image, rows * cols. */
  public int pixelsPerImage() {
    return rows * cols;
  }

  /** The model-input shape of all images: [n, 1, rows, cols]. */
  public long[] imageShape() {
    return new long[] {count, 1, rows, cols};
  }

  /** The mean subtracted (after scaling to [0, 1]) when normalising. */
  public double mean() {
    return mean;
  }

  /** The standard deviation divided by when normalising. */
  public double std() {
    return std;
  }

  /** Class label of image {@code i}. */
  public long label(int i) {
    return labels[Objects.checkIndex(i, count)] & 0xff;
  }

  /** All labels in order, as int64 class indices. */
  public long[] labels() {
    long[] out = new long[count];
    for (int i = 0; i < count; i++) {
      out[i] = labels[i] & 0xff;
    }
    return out;
  }

  /** How many images carry each label 0..numClasses-1. */
  public int[] labelCounts(int numClasses) {
    int[] counts = new int[numClasses];
    for (byte b : labels) {
      counts[b & 0xff]++;
    }
    return counts;
  }

  /** Raw pixel {@code p} (row-major) of image {@code i}, 0..255. */
  public int pixel(int i, int p) {
    Objects.checkIndex(p, rows * cols);
    return pixels[Objects.checkIndex(i, count) * rows * cols + p] & 0xff;
  }

  /** The normalised float value of raw pixel value {@code x} (0..255). */
  public float normalize(int x) {
    return normalized[x];
  }

  /** Writes image {@code i}'s normalised pixels into {@code dst} starting at {@code offset}. */
  public void copyNormalizedImage(int i, float[] dst, int offset) {
    int n = rows * cols;
    int from = Objects.checkIndex(i, count) * n;
    for (int p = 0; p < n; p++) {
      dst[offset + p] = normalized[pixels[from + p] & 0xff];
    }
  }

  /** Every image normalised, row-major with shape {@link #imageShape()}; allocates n * rows * cols floats. */
  public float[] normalizedImages() {
    float[] out = new float[Math.multiplyExact(count, rows * cols)];
    for (int i = 0; i < count; i++) {
      copyNormalizedImage(i, out, i * rows * cols);
    }
    return out;
  }

  /** The images at {@code indices}, in that order, as a new set described by {@code newSource}. */
  public LabeledImages select(int[] indices, String newSource) {
    int n = rows * cols;
    byte[] p = new byte[Math.multiplyExact(indices.length, n)];
    byte[] l = new byte[indices.length];
    for (int k = 0; k < indices.length; k++) {
      int i = Objects.checkIndex(indices[k], count);
      System.arraycopy(pixels, i * n, p, k * n, n);
      l[k] = labels[i];
    }
    return new LabeledImages(newSource, indices.length, rows, cols, p, l, mean, std);
  }

  /** The raw uint8 pixels [n, rows, cols] (copied), e.g. for writing IDX files. */
  public byte[] rawPixels() {
    return pixels.clone();
  }

  /** The raw uint8 labels [n] (copied). */
  public byte[] rawLabels() {
    return labels.clone();
  }

  /** Whether both sets hold the same pixels and labels, in the same order (sources and normalisation ignored). */
  public boolean sameContent(LabeledImages other) {
    return rows == other.rows && cols == other.cols && Arrays.equals(pixels, other.pixels)
        && Arrays.equals(labels, other.labels);
  }

  @Override
  public String toString() {
    return "LabeledImages(" + count + " x " + rows + "x" + cols + " from " + source + ")";
  }
}
