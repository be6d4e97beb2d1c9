package org.twicing.models.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Regenerates the bundled Fashion-MNIST subset: the first {@value FashionMnist#BUNDLED_TRAIN_PER_CLASS} training
 * and {@value FashionMnist#BUNDLED_TEST_PER_CLASS} test images of every class, in file order, from the full data
 * set, written as gzipped IDX files. Run with the full data directory and the resource folder as arguments.
 */
public final class FashionMnistSubset {
  private FashionMnistSubset() { }

  /** Writes the subset of {@code full} as the four gzipped IDX files into {@code outDir}. */
  public static void write(FashionMnist full, Path outDir) throws IOException {
    FashionMnist subset = full.balancedSubset(FashionMnist.BUNDLED_TRAIN_PER_CLASS,
        FashionMnist.BUNDLED_TEST_PER_CLASS);
    Files.createDirectories(outDir);
    writeSplit(subset.train(), outDir, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS);
    writeSplit(subset.test(), outDir, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS);
  }

  /**
   * Writes a small data directory for tests and demos: {@code trainCount} training and {@code testCount} test images
   * of {@code source}, evenly spaced through each split (so every class appears), as the four gzipped IDX files.
   */
  public static void writeEvenlySpaced(FashionMnist source, int trainCount, int testCount, Path outDir)
      throws IOException {
    Files.createDirectories(outDir);
    writeSplit(evenlySpaced(source.train(), trainCount), outDir, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS);
    writeSplit(evenlySpaced(source.test(), testCount), outDir, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS);
  }

  private static LabeledImages evenlySpaced(LabeledImages all, int n) {
    if (n < 1 || n > all.size()) {
      throw new IllegalArgumentException("cannot take " + n + " images of " + all.size() + " (" + all.source() + ")");
    }
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) {
      idx[i] = i * (all.size() / n);
    }
    return all.select(idx, n + " evenly spaced images of " + all.source());
  }

  private static void writeSplit(LabeledImages split, Path dir, String images, String labels) throws IOException {
    IdxFile.write(dir.resolve(images + ".gz"), IdxFile.IMAGES_MAGIC,
        new int[] {split.size(), split.rows(), split.cols()}, split.rawPixels(), true);
    IdxFile.write(dir.resolve(labels + ".gz"), IdxFile.LABELS_MAGIC, new int[] {split.size()}, split.rawLabels(),
        true);
  }

  /**
   * Command line: {@code FashionMnistSubset FULL_DIR OUT_DIR}, e.g. {@code /usr/share/datasets/fashion-mnist
   * models/src/main/resources/org/twicing/models/data/fashion-mnist-subset}.
   */
  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      System.err.println("usage: FashionMnistSubset FULL_FASHION_MNIST_DIR OUTPUT_DIR");
      System.exit(2);
    }
    FashionMnist full = FashionMnist.loadDirectory(Path.of(args[0]));
    write(full, Path.of(args[1]));
    System.out.println("wrote the subset of " + full.source() + " to " + args[1]);
  }
}
