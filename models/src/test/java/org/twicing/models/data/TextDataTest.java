package org.twicing.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.data.TextData.Split;

/** Byte-level text loading, splitting and window sampling, and the errors for unusable input. */
class TextDataTest {
  @TempDir
  Path dir;

  private static final String TEXT = "The quick brown fox jumps over the lazy dog. Zoë naïve café – 東京 ✓\n".repeat(3);

  private Path write(String name, String content) throws IOException {
    Path f = dir.resolve(name);
    Files.createDirectories(f.getParent());
    return Files.writeString(f, content, StandardCharsets.UTF_8);
  }

  @Test
  void singleFileSplitsOffTheLastTenPercent() throws IOException {
    Path f = write("corpus.txt", TEXT);
    byte[] bytes = TEXT.getBytes(StandardCharsets.UTF_8);
    TextData data = TextData.load("text:" + f);
    assertEquals("text:" + f, data.source());
    assertEquals(bytes.length, data.totalBytes());
    int validation = (int) Math.floor(bytes.length * 0.1);
    assertEquals(validation, data.size(Split.VALIDATION));
    assertArrayEquals(Arrays.copyOfRange(bytes, 0, bytes.length - validation), data.bytes(Split.TRAIN));
    assertArrayEquals(Arrays.copyOfRange(bytes, bytes.length - validation, bytes.length),
        data.bytes(Split.VALIDATION));
    assertEquals(0, TextData.load("text:" + f, 0.0).size(Split.VALIDATION));
  }

  @Test
  void directoryFilesAreConcatenatedInNameOrderWithNewlines() throws IOException {
    write("corpus/b.txt", "bravo");
    write("corpus/a.txt", "alpha");
    write("corpus/sub/c.txt", "charlie");
    write("corpus/empty.txt", "");
    write("corpus/.hidden", "secret");
    write("corpus/.git/config", "ignored");
    TextData data = TextData.load("text:" + dir.resolve("corpus"), 0.0);
    assertEquals("alpha\nbravo\ncharlie", new String(data.bytes(Split.TRAIN), StandardCharsets.UTF_8));
  }

  @Test
  void windowsPairEachTokenWithTheNextByte() throws IOException {
    Path f = write("corpus.txt", TEXT);
    byte[] bytes = TEXT.getBytes(StandardCharsets.UTF_8);
    TextData data = TextData.load("text:" + f);
    int context = 16;
    TokenBatch batch = data.batch(Split.TRAIN, 8, context, 5, 0);
    assertArrayEquals(new long[] {8, 16}, batch.shape());
    int[] starts = batch.starts();
    for (int b = 0; b < 8; b++) {
      assertTrue(starts[b] + context + 1 <= data.size(Split.TRAIN), "window stays inside the train split");
      for (int t = 0; t < context; t++) {
        assertEquals(bytes[starts[b] + t] & 0xff, batch.tokens()[b * context + t]);
        assertEquals(bytes[starts[b] + t + 1] & 0xff, batch.labels()[b * context + t]);
      }
    }

    int validationStart = bytes.length - data.size(Split.VALIDATION);
    TokenBatch val = data.batch(Split.VALIDATION, 4, 5, 5, 0);
    for (int b = 0; b < 4; b++) {
      int s = val.starts()[b];
      assertTrue(s + 6 <= data.size(Split.VALIDATION));
      assertEquals(bytes[validationStart + s] & 0xff, val.tokens()[b * 5]);
      assertEquals(bytes[validationStart + s + 5] & 0xff, val.labels()[b * 5 + 4]);
    }
  }

  @Test
  void tokensAreUnsignedBytesAndEveryStartIsReachable() throws IOException {
    Path f = write("small.txt", "é✓ab");
    TextData data = TextData.load("text:" + f, 0.0);
    byte[] bytes = "é✓ab".getBytes(StandardCharsets.UTF_8); // 7 bytes: c3 a9 e2 9c 93 61 62
    boolean[] seen = new boolean[bytes.length - 3];
    for (long step = 0; step < 200; step++) {
      TokenBatch b = data.batch(Split.TRAIN, 2, 3, 11, step);
      for (int s : b.starts()) {
        seen[s] = true;
      }
      for (long t : b.tokens()) {
        assertTrue(t >= 0 && t < 256);
      }
    }
    for (int s = 0; s < seen.length; s++) {
      assertTrue(seen[s], "window start " + s + " (the last possible is " + (seen.length - 1) + ") was drawn");
    }
    assertEquals(0xc3, data.batch(Split.TRAIN, 1, 6, 0, 0).tokens()[0]);
  }

  @Test
  void samplingIsDeterministicAndResumable() throws IOException {
    TextData data = TextData.load("text:" + write("corpus.txt", TEXT));
    TextData.Windows a = data.windows(Split.TRAIN, 4, 8, 123, 0);
    TextData.Windows b = data.windows(Split.TRAIN, 4, 8, 123, 0);
    for (int i = 0; i < 5; i++) {
      assertArrayEquals(a.next().tokens(), b.next().tokens());
    }
    long saved = a.step();
    assertEquals(5, saved);
    TextData.Windows resumed = data.windows(Split.TRAIN, 4, 8, 123, saved);
    for (int i = 0; i < 5; i++) {
      TokenBatch expected = a.next();
      TokenBatch actual = resumed.next();
      assertArrayEquals(expected.starts(), actual.starts());
      assertArrayEquals(expected.tokens(), actual.tokens());
      assertArrayEquals(expected.labels(), actual.labels());
    }
    assertFalse(Arrays.equals(data.batch(Split.TRAIN, 4, 8, 123, 0).starts(),
        data.batch(Split.TRAIN, 4, 8, 124, 0).starts()), "another seed draws other windows");
  }

  @Test
  void badInputIsReportedWithThePath() throws IOException {
    Path missing = dir.resolve("absent.txt");
    NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> TextData.load("text:" + missing));
    assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("does not exist"),
        e.getMessage());

    Path empty = write("empty.txt", "");
    IOException emptyFile = assertThrows(IOException.class, () -> TextData.load("text:" + empty));
    assertTrue(emptyFile.getMessage().contains(empty.toString()) && emptyFile.getMessage().contains("empty"),
        emptyFile.getMessage());

    Path emptyDir = Files.createDirectories(dir.resolve("nothing"));
    write("nothing/blank.txt", "");
    IOException noFiles = assertThrows(IOException.class, () -> TextData.load("text:" + emptyDir));
    assertTrue(noFiles.getMessage().contains(emptyDir.toString())
        && noFiles.getMessage().contains("no non-empty files"), noFiles.getMessage());

    Path shortText = write("short.txt", "0123456789");
    TextData data = TextData.load("text:" + shortText);
    IllegalArgumentException tooShort = assertThrows(IllegalArgumentException.class,
        () -> data.windows(Split.TRAIN, 2, 9, 0, 0));
    assertTrue(tooShort.getMessage().contains(shortText.toString())
        && tooShort.getMessage().contains("train split has 9 bytes, shorter than context + 1 = 10"),
        tooShort.getMessage());
    data.windows(Split.TRAIN, 2, 8, 0, 0); // exactly context + 1 bytes is enough

    Path binary = dir.resolve("data.bin");
    Files.write(binary, new byte[] {'o', 'k', (byte) 0xff, 'x'});
    IOException notUtf8 = assertThrows(IOException.class, () -> TextData.load("text:" + binary));
    assertTrue(notUtf8.getMessage().contains(binary.toString()) && notUtf8.getMessage().contains("byte offset 2"),
        notUtf8.getMessage());

    IllegalArgumentException spec = assertThrows(IllegalArgumentException.class,
        () -> TextData.load(shortText.toString()));
    assertTrue(spec.getMessage().contains("text:PATH"), spec.getMessage());
  }
}
