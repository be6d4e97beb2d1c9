package org.twicing.models.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The Fashion-MNIST data set (28x28 grey-scale clothing images, ten classes) with its train and test splits.
 * Where the files come from is resolved in order: a directory given explicitly; else the Debian package
 * {@code dataset-fashion-mnist} at {@value #SYSTEM_DIR_NAME}; else a small class-balanced subset bundled with
 * this module, so that examples and tests run anywhere. {@link #source()} says which one was used.
 */
public final class FashionMnist {
  /** Where Debian's {@code dataset-fashion-mnist} package installs the files. */
  public static final String SYSTEM_DIR_NAME = "/usr/share/datasets/fashion-mnist";
  /** {@link #SYSTEM_DIR_NAME} as a path. */
  public static final Path SYSTEM_DIR = Path.of(SYSTEM_DIR_NAME);
  /** Mean pixel value of the training set after scaling to [0, 1], as conventionally used for normalisation. */
  public static final double MEAN = 0.2860;
  /** Standard deviation of training pixels after scaling to [0, 1], as conventionally used for normalisation. */
  public static final double STD = 0.3530;
  /** Image height and width in pixels. */
  public static final int SIDE = 28;
  /** The class names, indexed by label. */
  public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
  /** Number of classes. */
  public static final int NUM_CLASSES = 10;
  /** File names of the four IDX files; a directory may hold them gzip-compressed ({@code .gz}) or raw. */
  public static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
  /** File name of the training labels. */
  public static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
  /** File name of the test images. */
  public static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
  /** File name of the test labels. */
  public static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
  /** Training images per class in the bundled subset. */
  public static final int BUNDLED_TRAIN_PER_CLASS = 400;
  /** Test images per class in the bundled subset. */
  public static final int BUNDLED_TEST_PER_CLASS = 100;
  /** Classpath folder (relative to this class) holding the bundled subset as gzipped IDX files. */
  static final String BUNDLED_RESOURCE_DIR = "fashion-mnist-subset/";

  private final LabeledImages train;
  private final LabeledImages test;
  private final String source;

  private FashionMnist(LabeledImages train, LabeledImages test, String source) {
    this.train = train;
    this.test = test;
    this.source = source;
  }

  /** Loads from the Debian directory when it holds all four files, else the bundled subset. */
  public static FashionMnist load() throws IOException {
    return load(null);
  }

  /**
   * Loads from {@code directory} if it is not null (failing, naming the directory, when it lacks a file rather
   * than falling back silently); otherwise as {@link #load()}.
   */
  public static FashionMnist load(Path directory) throws IOException {
    return resolve(directory, SYSTEM_DIR);
  }

  /** Source resolution with the system directory as a parameter, so tests can exercise the fallback. */
  static FashionMnist resolve(Path explicit, Path systemDir) throws IOException {
    if (explicit != null) {
      return loadDirectory(explicit);
    }
    if (holdsAllFiles(systemDir)) {
      return loadDirectory(systemDir);
    }
    return loadBundledSubset();
  }

  /** Loads the four IDX files (gzip or raw) from {@code directory}. */
  public static FashionMnist loadDirectory(Path directory) throws IOException {
    if (!Files.isDirectory(directory)) {
      throw new NoSuchFileException(directory.toString(), null, Files.exists(directory)
          ? "expected a Fashion-MNIST directory, found a file" : "Fashion-MNIST directory does not exist");
    }
    LabeledImages train = pair(IdxFile.readImages(find(directory, TRAIN_IMAGES)),
        IdxFile.readLabels(find(directory, TRAIN_LABELS)));
    LabeledImages test = pair(IdxFile.readImages(find(directory, TEST_IMAGES)),
        IdxFile.readLabels(find(directory, TEST_LABELS)));
    return new FashionMnist(train, test, directory.toString());
  }

  /** Loads the class-balanced subset bundled as classpath resources. */
  public static FashionMnist loadBundledSubset() throws IOException {
    LabeledImages train = pair(resource(TRAIN_IMAGES), resource(TRAIN_LABELS));
    LabeledImages test = pair(resource(TEST_IMAGES), resource(TEST_LABELS));
    return new FashionMnist(train, test, "bundled subset (" + train.size() + " train / " + test.size() + " test)");
  }

  /**
   * The first {@code trainPerClass} training and {@code testPerClass} test images of each class, in file order:
   * the deterministic rule that produced the bundled subset (see {@link FashionMnistSubset}).
   */
  public FashionMnist balancedSubset(int trainPerClass, int testPerClass) {
    LabeledImages tr = firstPerClass(train, trainPerClass);
    LabeledImages te = firstPerClass(test, testPerClass);
    return new FashionMnist(tr, te, "subset (" + tr.size() + " train / " + te.size() + " test) of " + source);
  }

  private static LabeledImages firstPerClass(LabeledImages all, int perClass) {
    int[] taken = new int[NUM_CLASSES];
    List<Integer> chosen = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      int label = (int) all.label(i);
      if (taken[label] < perClass) {
        taken[label]++;
        chosen.add(i);
      }
    }
    for (int c = 0; c < NUM_CLASSES; c++) {
      if (taken[c] < perClass) {
        throw new IllegalArgumentException(all.source() + " has only " + taken[c] + " images of class " + c + " ("
            + CLASS_NAMES.get(c) + "), fewer than the " + perClass + " asked for");
      }
    }
    return all.select(chosen.stream().mapToInt(Integer::intValue).toArray(), all.source());
  }

  /** The training split. */
  public LabeledImages train() {
    return train;
  }

  /** The test split. */
  public LabeledImages test() {
    return test;
  }

  /** Where the data came from: a directory path, or {@code "bundled subset (N train / M test)"}. */
  public String source() {
    return source;
  }

  /** The class name of {@code label}, e.g. {@code "Ankle boot"} for 9. */
  public static String className(long label) {
    return CLASS_NAMES.get(Objects.checkIndex((int) label, NUM_CLASSES));
  }

  private static boolean holdsAllFiles(Path dir) {
    if (!Files.isDirectory(dir)) {
      return false;
    }
    for (String name : List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)) {
      if (!Files.isRegularFile(dir.resolve(name + ".gz")) && !Files.isRegularFile(dir.resolve(name))) {
        return false;
      }
    }
    return true;
  }

  private static Path find(Path dir, String name) throws NoSuchFileException {
    Path gz = dir.resolve(name + ".gz");
    if (Files.isRegularFile(gz)) {
      return gz;
    }
    Path raw = dir.resolve(name);
    if (Files.isRegularFile(raw)) {
      return raw;
    }
    throw new NoSuchFileException(gz.toString(), null, "Fashion-MNIST directory " + dir + " lacks " + name
        + ".gz (or uncompressed " + name + ")");
  }

  private static IdxFile resource(String name) throws IOException {
    String path = BUNDLED_RESOURCE_DIR + name + ".gz";
    try (InputStream in = FashionMnist.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new NoSuchFileException("classpath:" + FashionMnist.class.getPackageName().replace('.', '/') + "/"
            + path, null, "bundled Fashion-MNIST subset resource is missing from the class path");
      }
      return IdxFile.read(in, "classpath:" + path);
    }
  }

  private static LabeledImages pair(IdxFile images, IdxFile labels) throws IOException {
    int[] dims = images.dims();
    if (dims[1] != SIDE || dims[2] != SIDE) {
      throw new IOException(images.source() + ": Fashion-MNIST images are " + SIDE + "x" + SIDE + ", found "
          + dims[1] + "x" + dims[2]);
    }
    return LabeledImages.fromIdx(images, labels, NUM_CLASSES, MEAN, STD);
  }

  @Override
  public String toString() {
    return "FashionMnist(" + source + ": " + train.size() + " train, " + test.size() + " test)";
  }
}
