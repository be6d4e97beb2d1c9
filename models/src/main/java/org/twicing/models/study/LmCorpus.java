package org.twicing.models.study;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.twicing.dsl.io.AtomicFile;
import org.twicing.models.data.TextData;

/**
 * The study's language corpus: Debian's {@code fortunes} package (/usr/share/games/fortunes), natural English
 * prose, quotations and jokes, about 2.4 MB in some 15,000 documents separated by {@code %} lines. Chosen because a
 * Debian package ships it, it is natural language (not code or markup), and its documents are independent, so a
 * split by document never leaks text between train, validation and test. Documents are assigned round-robin by
 * their position in the sorted files: every tenth to test, the one after it to validation, the rest to train.
 */
public final class LmCorpus {
  private LmCorpus() { }

  /** What {@link #prepare} wrote: documents and bytes per split. */
  public record Split(int trainDocs, int validDocs, int testDocs, long trainBytes, long validBytes, long testBytes,
      int skippedDocs) {
    /** One line for people. */
    public String describe() {
      return String.format(Locale.ROOT, "%d/%d/%d documents (%d/%d/%d bytes) in train/valid/test, %d skipped as"
          + " not UTF-8", trainDocs, validDocs, testDocs, trainBytes, validBytes, testBytes, skippedDocs);
    }
  }

  /**
   * Makes {@code out} a split directory ({@link TextData#isSplitDirectory}) from {@code source}: a split directory
   * is copied as it is; a directory of fortune files is split by document as the class comment says. Idempotent:
   * the same source gives the same bytes.
   */
  public static Split prepare(Path source, Path out) throws IOException {
    if (!Files.isDirectory(source)) {
      throw new NoSuchFileException(source.toString(), null, "language corpus directory does not exist (for the"
          + " default plan: apt-get install fortunes)");
    }
    Files.createDirectories(out);
    if (TextData.isSplitDirectory(source)) {
      byte[][] parts = new byte[3][];
      String[] names = {TextData.TRAIN_FILE, TextData.VALID_FILE, TextData.TEST_FILE};
      for (int i = 0; i < 3; i++) {
        parts[i] = Files.readAllBytes(source.resolve(names[i]));
        AtomicFile.write(out.resolve(names[i]), parts[i]);
      }
      return new Split(-1, -1, -1, parts[0].length, parts[1].length, parts[2].length, 0);
    }
    List<Path> files = new ArrayList<>();
    try (Stream<Path> list = Files.list(source)) {
      // The package's .dat files are binary indexes and its .u8 names are symbolic links to the text files.
      list.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
          .filter(p -> !p.getFileName().toString().contains(".")).sorted().forEach(files::add);
    }
    if (files.isEmpty()) {
      throw new IOException(source + ": no fortune files (plain names without extension) found");
    }
    ByteArrayOutputStream[] split = {new ByteArrayOutputStream(), new ByteArrayOutputStream(),
        new ByteArrayOutputStream()};
    int[] docs = new int[3];
    int index = 0;
    int skipped = 0;
    for (Path f : files) {
      for (String doc : documents(Files.readAllBytes(f))) {
        byte[] bytes = doc.getBytes(StandardCharsets.UTF_8);
        if (doc.isEmpty()) {
          continue;
        }
        if (doc.indexOf('\uFFFD') >= 0) {
          skipped++;
          continue;
        }
        int s = index % 10 == 0 ? 2 : index % 10 == 1 ? 1 : 0;
        index++;
        if (split[s].size() > 0) {
          split[s].write('\n');
        }
        split[s].write(bytes);
        split[s].write('\n');
        docs[s]++;
      }
    }
    AtomicFile.write(out.resolve(TextData.TRAIN_FILE), split[0].toByteArray());
    AtomicFile.write(out.resolve(TextData.VALID_FILE), split[1].toByteArray());
    AtomicFile.write(out.resolve(TextData.TEST_FILE), split[2].toByteArray());
    return new Split(docs[0], docs[1], docs[2], split[0].size(), split[1].size(), split[2].size(), skipped);
  }

  /** The {@code %}-separated documents of a fortune file, trimmed; malformed UTF-8 becomes U+FFFD. */
  static List<String> documents(byte[] file) {
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(file)).toString();
    } catch (CharacterCodingException e) {
      text = new String(file, StandardCharsets.UTF_8); // replaces bad sequences with U+FFFD, skipped per document
    }
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    for (String line : text.split("\n", -1)) {
      if (line.equals("%")) {
        out.add(cur.toString().strip());
        cur.setLength(0);
      } else {
        cur.append(line).append('\n');
      }
    }
    out.add(cur.toString().strip());
    return out;
  }
}
