package org.twicing.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Source resolution, the Debian files, the bundled subset and the normalisation constants. */
class FashionMnistTest {
  private static final Path DEBIAN = Path.of("/usr/share/datasets/fashion-mnist");
  private static FashionMnist debian;
  private static FashionMnist bundled;

  @TempDir
  Path dir;

  @BeforeAll
  static void load() throws IOException {
    // Loaded once: decompressing the full set is the slowest step of these tests.
    if (Files.isRegularFile(DEBIAN.resolve("train-images-idx3-ubyte.gz"))) {
      debian = FashionMnist.loadDirectory(DEBIAN);
    }
    bundled = FashionMnist.loadBundledSubset();
  }

  @Test
  void debianDirectoryLoadsTheFullSplits() throws IOException {
    requireDebian();
    FashionMnist data = FashionMnist.load(); // no directory given: the Debian files win over the subset
    assertEquals("/usr/share/datasets/fashion-mnist", data.source());
    assertEquals(60000, data.train().size());
    assertEquals(10000, data.test().size());
    assertArrayEquals(new long[] {60000, 1, 28, 28}, data.train().imageShape());
    // Fashion-MNIST is balanced: 6000 train and 1000 test images per class.
    int[] trainCounts = new int[10];
    Arrays.fill(trainCounts, 6000);
    int[] testCounts = new int[10];
    Arrays.fill(testCounts, 1000);
    assertArrayEquals(trainCounts, data.train().labelCounts(10));
    assertArrayEquals(testCounts, data.test().labelCounts(10));
    // First labels as numpy reads them from the same files: train 9, 0, 0 and test 9, 2, 1.
    assertEquals(List.of(9L, 0L, 0L), List.of(data.train().label(0), data.train().label(1), data.train().label(2)));
    assertEquals(List.of(9L, 2L, 1L), List.of(data.test().label(0), data.test().label(1), data.test().label(2)));
  }

  @Test
  void normalisationConstantsCentreTheTrainingSet() {
    requireDebian();
    LabeledImages train = debian.train();
    double sum = 0;
    double sumSquares = 0;
    long n = 0;
    float[] image = new float[784];
    for (int i = 0; i < train.size(); i += 7) {
      train.copyNormalizedImage(i, image, 0);
      for (float v : image) {
        sum += v;
        sumSquares += v * (double) v;
        n++;
      }
    }
    double mean = sum / n;
    double std = Math.sqrt(sumSquares / n - mean * mean);
    assertEquals(0.0, mean, 0.01, "normalised mean");
    assertEquals(1.0, std, 0.01, "normalised std");
  }

  @Test
  void pixelsAreNormalisedWithTheUsualConstants() {
    LabeledImages train = bundled.train();
    // (x / 255 - 0.2860) / 0.3530 worked out by hand for x = 0, 128, 255.
    assertEquals(-0.8101983, train.normalize(0), 1e-6);
    assertEquals(0.6117869, train.normalize(128), 1e-6);
    assertEquals(2.0226629, train.normalize(255), 1e-6);
    float[] all = train.normalizedImages();
    assertEquals(4000 * 784, all.length);
    for (int i : new int[] {0, 1234, 3999}) {
      for (int p = 0; p < 784; p += 13) {
        double expected = (train.pixel(i, p) / 255.0 - 0.2860) / 0.3530;
        assertEquals(expected, all[i * 784 + p], 1e-6, "image " + i + " pixel " + p);
      }
    }
  }

  @Test
  void bundledSubsetLoadsAndIsClassBalanced() {
    assertEquals("bundled subset (4000 train / 1000 test)", bundled.source());
    assertEquals(4000, bundled.train().size());
    assertEquals(1000, bundled.test().size());
    assertArrayEquals(new int[] {400, 400, 400, 400, 400, 400, 400, 400, 400, 400}, bundled.train().labelCounts(10));
    assertArrayEquals(new int[] {100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, bundled.test().labelCounts(10));
    assertEquals(28, bundled.train().rows());
    assertEquals(28, bundled.train().cols());
  }

  /** Indices of the first {@code perClass} images of each class, in file order. */
  private static int[] firstPerClass(LabeledImages all, int perClass) {
    int[] seen = new int[10];
    List<Integer> picked = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      if (seen[(int) all.label(i)]++ < perClass) {
        picked.add(i);
      }
    }
    return picked.stream().mapToInt(Integer::intValue).toArray();
  }

  @Test
  void bundledSubsetIsTheFirstImagesOfEachClassInTheDebianFiles() throws IOException {
    requireDebian();
    assertTrue(bundled.train().sameContent(debian.train().select(firstPerClass(debian.train(), 400), "x")));
    assertTrue(bundled.test().sameContent(debian.test().select(firstPerClass(debian.test(), 100), "x")));
    // And the rule FashionMnistSubset applies reproduces it (the committed files are not hand-edited).
    FashionMnist regenerated = debian.balancedSubset(FashionMnist.BUNDLED_TRAIN_PER_CLASS,
        FashionMnist.BUNDLED_TEST_PER_CLASS);
    assertTrue(regenerated.train().sameContent(bundled.train()));
    assertTrue(regenerated.test().sameContent(bundled.test()));
  }

  @Test
  void subsetGeneratorWritesLoadableGzippedFiles() throws IOException {
    FashionMnist tiny = FashionMnist.loadBundledSubset();
    Path out = dir.resolve("subset");
    FashionMnistSubset.write(tiny, out); // the bundled subset is its own 400 / 100 per class subset
    FashionMnist regenerated = FashionMnist.loadDirectory(out);
    assertEquals(out.toString(), regenerated.source());
    assertTrue(regenerated.train().sameContent(tiny.train()));
    assertTrue(regenerated.test().sameContent(tiny.test()));
    try (var files = Files.list(out)) {
      assertEquals(4, files.filter(f -> f.toString().endsWith("-ubyte.gz")).count());
    }
  }

  @Test
  void fallsBackToTheBundledSubsetWithoutTheSystemDirectory() throws IOException {
    FashionMnist data = FashionMnist.resolve(null, dir.resolve("not-installed"));
    assertEquals("bundled subset (4000 train / 1000 test)", data.source());
    assertEquals(4000, data.train().size());
  }

  @Test
  void explicitDirectoryWinsAndMayHoldRawFiles() throws IOException {
    byte[] pixels = new byte[2 * 784];
    pixels[5] = (byte) 255;
    IdxFile.write(dir.resolve("train-images-idx3-ubyte"), IdxFile.IMAGES_MAGIC, new int[] {2, 28, 28}, pixels,
        false);
    IdxFile.write(dir.resolve("train-labels-idx1-ubyte.gz"), IdxFile.LABELS_MAGIC, new int[] {2},
        new byte[] {3, 9}, true);
    IdxFile.write(dir.resolve("t10k-images-idx3-ubyte.gz"), IdxFile.IMAGES_MAGIC, new int[] {1, 28, 28},
        new byte[784], true);
    IdxFile.write(dir.resolve("t10k-labels-idx1-ubyte.gz"), IdxFile.LABELS_MAGIC, new int[] {1}, new byte[] {7},
        true);
    FashionMnist data = FashionMnist.load(dir);
    assertEquals(dir.toString(), data.source());
    assertArrayEquals(new long[] {3, 9}, data.train().labels());
    assertEquals(2.0226629, data.train().normalizedImages()[5], 1e-6);
    assertEquals("Sneaker", FashionMnist.className(data.test().label(0)));
  }

  @Test
  void explicitDirectoryProblemsAreNamed() throws IOException {
    Path missing = dir.resolve("absent");
    NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> FashionMnist.load(missing));
    assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("does not exist"),
        e.getMessage());

    IdxFile.write(dir.resolve("train-images-idx3-ubyte.gz"), IdxFile.IMAGES_MAGIC, new int[] {1, 28, 28},
        new byte[784], true);
    NoSuchFileException lacks = assertThrows(NoSuchFileException.class, () -> FashionMnist.load(dir));
    assertTrue(lacks.getMessage().contains(dir.toString()) && lacks.getMessage().contains("train-labels-idx1-ubyte"),
        lacks.getMessage());

    IdxFile.write(dir.resolve("train-labels-idx1-ubyte.gz"), IdxFile.LABELS_MAGIC, new int[] {1}, new byte[1],
        true);
    IdxFile.write(dir.resolve("t10k-images-idx3-ubyte.gz"), IdxFile.IMAGES_MAGIC, new int[] {1, 14, 14},
        new byte[196], true);
    IdxFile.write(dir.resolve("t10k-labels-idx1-ubyte.gz"), IdxFile.LABELS_MAGIC, new int[] {1}, new byte[1], true);
    IOException size = assertThrows(IOException.class, () -> FashionMnist.load(dir));
    assertTrue(size.getMessage().contains("t10k-images") && size.getMessage().contains("found 14x14"),
        size.getMessage());
  }

  @Test
  void classNamesFollowTheLabelOrder() {
    assertEquals(List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
        "Ankle boot"), FashionMnist.CLASS_NAMES);
    assertEquals("Ankle boot", FashionMnist.className(9));
    assertThrows(IndexOutOfBoundsException.class, () -> FashionMnist.className(10));
  }

  /**
   * Skips a test that needs Debian's full Fashion-MNIST when it is not installed, or fails it under
   * twicing.requireReferences (set by .ci/run, which installs the package), so CI never skips it silently.
   */
  private static void requireDebian() {
    String why = "Debian's dataset-fashion-mnist is not installed";
    assertTrue(debian != null || !Boolean.getBoolean("twicing.requireReferences"),
        why + " (twicing.requireReferences is set: a missing reference fails)");
    assumeTrue(debian != null, why);
  }
}
