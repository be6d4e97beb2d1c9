package org.twicing.models.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Byte-level text for language modelling, named by a data spec {@code text:PATH}: a UTF-8 file, or a directory
 * whose files (recursively, hidden ones skipped, sorted by relative path) are concatenated with a newline between
 * them. The last fraction of the bytes (10% by default) is the validation split. Batches are random windows of
 * context + 1 bytes, giving tokens [B, T] and next-token labels [B, T]; the windows of step {@code s} depend only
 * on (seed, s), so training resumes exactly from a saved step.
 *
 * <p>A directory holding {@code train.txt} and {@code valid.txt} (WikiText's convention; a {@code test.txt} beside
 * them is ignored here) is a corpus split in advance: its two files are the two splits, whatever the fraction, so a
 * split made by document never cuts a document in two. {@link #heldOut} reads such a directory's test split.
 */
public final class TextData {
  /** The prefix of a text data spec. */
  public static final String SCHEME = "text:";
  /** Share of the bytes, taken from the end, that forms the validation split unless told otherwise. */
  public static final double DEFAULT_VALIDATION_FRACTION = 0.1;
  /** Number of distinct tokens: one per byte value. */
  public static final int VOCAB_SIZE = 256;

  /** Which part of the text to draw windows from. */
  public enum Split {
    /** The leading bytes. */
    TRAIN,
    /** The trailing bytes. */
    VALIDATION
  }

  private final String source;
  private final byte[] text;
  private final int validationStart;

  private TextData(String source, byte[] text, int validationStart) {
    this.source = source;
    this.text = text;
    this.validationStart = validationStart;
  }

  /** Loads a {@code text:PATH} spec with the default 10% validation split. */
  public static TextData load(String spec) throws IOException {
    return load(spec, DEFAULT_VALIDATION_FRACTION);
  }

  /** Loads a {@code text:PATH} spec, keeping the last {@code validationFraction} of the bytes for validation. */
  public static TextData load(String spec, double validationFraction) throws IOException {
    if (spec == null || !spec.startsWith(SCHEME) || spec.length() == SCHEME.length()) {
      throw new IllegalArgumentException("expected a text data spec of the form text:PATH (a UTF-8 file or a"
          + " directory of them), got '" + spec + "'");
    }
    return fromPath(Path.of(spec.substring(SCHEME.length())), validationFraction);
  }

  /** Loads a UTF-8 file or a directory of them (see the class comment). */
  public static TextData fromPath(Path path, double validationFraction) throws IOException {
    if (!(validationFraction >= 0 && validationFraction < 1)) {
      throw new IllegalArgumentException("validation fraction must be in [0, 1), got " + validationFraction);
    }
    String source = SCHEME + path;
    byte[] text;
    if (isSplitDirectory(path)) {
      byte[] train = readFile(path.resolve(TRAIN_FILE));
      byte[] valid = readFile(path.resolve(VALID_FILE));
      if (train.length == 0) {
        throw new IOException(path.resolve(TRAIN_FILE) + ": the training split is empty");
      }
      byte[] all = Arrays.copyOf(train, train.length + valid.length);
      System.arraycopy(valid, 0, all, train.length, valid.length);
      return new TextData(source, all, train.length);
    }
    if (Files.isDirectory(path)) {
      text = readDirectory(path, source);
    } else if (Files.isRegularFile(path)) {
      text = readFile(path);
      if (text.length == 0) {
        throw new IOException(source + ": the text file is empty");
      }
    } else if (Files.exists(path)) {
      // A device such as /dev/zero, a pipe or a socket: it exists, but has no end to read up to.
      throw new IOException(path + ": not a regular file or directory (from spec " + source + "); text data must "
          + "be a UTF-8 file or a directory of them");
    } else {
      throw new NoSuchFileException(path.toString(), null, "text data path does not exist (from spec "
          + source + ")");
    }
    long validation = (long) Math.floor(text.length * validationFraction);
    return new TextData(source, text, (int) (text.length - validation));
  }

  /** The training split's file in a split directory. */
  public static final String TRAIN_FILE = "train.txt";
  /** The validation split's file in a split directory. */
  public static final String VALID_FILE = "valid.txt";
  /** The test split's file in a split directory (read only by {@link #heldOut}). */
  public static final String TEST_FILE = "test.txt";

  /** Whether {@code path} is a directory split in advance (it holds train.txt and valid.txt). */
  public static boolean isSplitDirectory(Path path) {
    return Files.isDirectory(path) && Files.isRegularFile(path.resolve(TRAIN_FILE))
        && Files.isRegularFile(path.resolve(VALID_FILE));
  }

  /**
   * The held-out test split of a split directory as a text whose validation split is all of {@code test.txt}, so
   * an evaluation of its validation split measures the test set; fails naming the directory when it has none.
   */
  public static TextData heldOut(Path splitDirectory) throws IOException {
    Path test = splitDirectory.resolve(TEST_FILE);
    if (!isSplitDirectory(splitDirectory) || !Files.isRegularFile(test)) {
      throw new NoSuchFileException(test.toString(), null, "expected a split directory with " + TRAIN_FILE + ", "
          + VALID_FILE + " and " + TEST_FILE);
    }
    return new TextData(SCHEME + test, readFile(test), 0);
  }

  private static byte[] readDirectory(Path dir, String source) throws IOException {
    List<Path> files = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.filter(p -> !isHidden(dir, p) && Files.isRegularFile(p)).forEach(files::add);
    }
    // Sorted by relative path as a string so the concatenation is the same on every machine and file system.
    files.sort(Comparator.comparing(p -> dir.relativize(p).toString()));
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (Path f : files) {
      byte[] bytes = readFile(f);
      if (bytes.length == 0) {
        continue; // an empty file would only add a stray separator
      }
      if (all.size() > 0) {
        all.write('\n');
      }
      if ((long) all.size() + bytes.length > Integer.MAX_VALUE - 8) {
        throw new IOException(source + ": the files add up to more than 2 GB of text");
      }
      all.write(bytes);
    }
    if (all.size() == 0) {
      throw new IOException(source + ": the directory holds no non-empty files (" + files.size() + " files found,"
          + " hidden ones skipped)");
    }
    return all.toByteArray();
  }

  /** Whether any path component below {@code root} starts with a dot (.git, .DS_Store, editor swap files). */
  private static boolean isHidden(Path root, Path p) {
    for (Path part : root.relativize(p)) {
      if (part.toString().startsWith(".")) {
        return true;
      }
    }
    return false;
  }

  private static byte[] readFile(Path file) throws IOException {
    if (Files.size(file) > Integer.MAX_VALUE - 8) {
      throw new IOException(file + ": text file is larger than 2 GB");
    }
    byte[] bytes = Files.readAllBytes(file);
    long bad = firstMalformedUtf8(bytes);
    if (bad >= 0) {
      throw new IOException(file + ": not UTF-8 text (malformed byte sequence at byte offset " + bad + ")");
    }
    return bytes;
  }

  /** Offset of the first malformed UTF-8 sequence in {@code bytes}, or -1 if it is all valid. */
  private static long firstMalformedUtf8(byte[] bytes) {
    CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(8192);
    while (true) {
      CoderResult r = d.decode(in, out, true);
      if (r.isError()) {
        return in.position();
      }
      if (r.isUnderflow()) {
        return -1;
      }
      out.clear();
    }
  }

  /** The spec this text was loaded from, {@code text:PATH}. */
  public String source() {
    return source;
  }

  /** Total bytes of text (both splits). */
  public int totalBytes() {
    return text.length;
  }

  /** Bytes in {@code split}. */
  public int size(Split split) {
    return split == Split.TRAIN ? validationStart : text.length - validationStart;
  }

  /** A copy of {@code split}'s bytes. */
  public byte[] bytes(Split split) {
    return split == Split.TRAIN ? Arrays.copyOfRange(text, 0, validationStart)
        : Arrays.copyOfRange(text, validationStart, text.length);
  }

  /**
   * The batch of step {@code step}: {@code batchSize} windows of {@code context + 1} bytes at offsets drawn
   * uniformly from {@code split} by a generator seeded with (seed, step).
   */
  public TokenBatch batch(Split split, int batchSize, int context, long seed, long step) {
    requireWindows(split, batchSize, context);
    int from = split == Split.TRAIN ? 0 : validationStart;
    int choices = size(split) - context; // window starts 0 .. size - (context + 1)
    SplittableRandom rng = new SplittableRandom(Batches.mix(seed, step));
    long[] tokens = new long[batchSize * context];
    long[] labels = new long[batchSize * context];
    int[] starts = new int[batchSize];
    for (int b = 0; b < batchSize; b++) {
      int start = rng.nextInt(choices);
      starts[b] = start;
      for (int t = 0; t < context; t++) {
        tokens[b * context + t] = text[from + start + t] & 0xff;
        labels[b * context + t] = text[from + start + t + 1] & 0xff;
      }
    }
    return new TokenBatch(tokens, labels, starts, context);
  }

  /**
   * An endless sequence of batches, {@link #batch} at steps {@code firstStep}, {@code firstStep + 1}, ...; fails at
   * once, naming the source, if the split is too short for one window.
   */
  public Windows windows(Split split, int batchSize, int context, long seed, long firstStep) {
    requireWindows(split, batchSize, context);
    if (firstStep < 0) {
      throw new IllegalArgumentException("first step must be >= 0, got " + firstStep);
    }
    return new Windows(split, batchSize, context, seed, firstStep);
  }

  /** Endless batches of random windows; {@link #step()} is the resume position. */
  public final class Windows {
    private final Split split;
    private final int batchSize;
    private final int context;
    private final long seed;
    private long step;

    private Windows(Split split, int batchSize, int context, long seed, long step) {
      this.split = split;
      this.batchSize = batchSize;
      this.context = context;
      this.seed = seed;
      this.step = step;
    }

    /** The step of the batch the next call to {@link #next()} returns; pass it back to resume. */
    public long step() {
      return step;
    }

    /** The next batch. */
    public TokenBatch next() {
      return batch(split, batchSize, context, seed, step++);
    }
  }

  private void requireWindows(Split split, int batchSize, int context) {
    if (batchSize <= 0 || context <= 0) {
      throw new IllegalArgumentException("batch size and context must be positive, got " + batchSize + " and "
          + context);
    }
    if (size(split) < context + 1L) {
      throw new IllegalArgumentException(source + ": the " + split.name().toLowerCase(Locale.ROOT)
          + " split has " + size(split) + " bytes, shorter than context + 1 = " + (context + 1L)
          + " (use a longer text or a smaller context)");
    }
  }

  @Override
  public String toString() {
    return "TextData(" + source + ": " + size(Split.TRAIN) + " train / " + size(Split.VALIDATION)
        + " validation bytes)";
  }
}
