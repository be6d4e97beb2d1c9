package org.twicing.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads hand-built IDX files, raw and gzipped, and checks each kind of bad input is reported clearly. */
class IdxFileTest {
  @TempDir
  Path dir;

  /** IDX bytes built by hand: big-endian magic, big-endian dims, then {@code data}. */
  private static byte[] idx(int magic, int[] dims, byte[] data) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeInt(magic);
    for (int d : dims) {
      out.writeInt(d);
    }
    out.write(data);
    out.flush();
    return bytes.toByteArray();
  }

  private static byte[] gzip(byte[] raw) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (OutputStream out = new GZIPOutputStream(bytes)) {
      out.write(raw);
    }
    return bytes.toByteArray();
  }

  private Path file(String name, byte[] content) throws IOException {
    return Files.write(dir.resolve(name), content);
  }

  private static byte[] sequence(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 37 + 200); // wraps past 127 so unsigned handling is exercised
    }
    return b;
  }

  private static void assertMessage(Exception e, String... fragments) {
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message should contain '" + f + "': " + e.getMessage());
    }
  }

  @Test
  void readsRawAndGzipAlikeWhateverTheName() throws IOException {
    byte[] pixels = sequence(3 * 2 * 4);
    byte[] raw = idx(0x803, new int[] {3, 2, 4}, pixels);
    // Detection is by content: a gzip file without .gz and a raw file with .gz both read correctly.
    for (Path f : new Path[] {file("images.idx", gzip(raw)), file("images.gz", raw)}) {
      IdxFile read = IdxFile.readImages(f);
      assertTrue(read.isImages());
      assertArrayEquals(new int[] {3, 2, 4}, read.dims());
      assertEquals(3, read.count());
      assertEquals(8, read.itemSize());
      assertArrayEquals(pixels, read.bytes());
      assertEquals((7 * 37 + 200) & 0xff, read.unsignedByte(7));
      assertEquals(f.toString(), read.source());
    }
    IdxFile labels = IdxFile.readLabels(file("labels", gzip(idx(0x801, new int[] {3}, new byte[] {9, 0, 5}))));
    assertArrayEquals(new byte[] {9, 0, 5}, labels.bytes());
  }

  @Test
  void writerOutputReadsBack() throws IOException {
    byte[] pixels = sequence(2 * 3 * 3);
    Path gz = dir.resolve("w.gz");
    IdxFile.write(gz, IdxFile.IMAGES_MAGIC, new int[] {2, 3, 3}, pixels, true);
    assertEquals(0x1f, Files.readAllBytes(gz)[0] & 0xff);
    assertArrayEquals(pixels, IdxFile.readImages(gz).bytes());
    Path raw = dir.resolve("w.raw");
    IdxFile.write(raw, IdxFile.IMAGES_MAGIC, new int[] {2, 3, 3}, pixels, false);
    assertArrayEquals(idx(0x803, new int[] {2, 3, 3}, pixels), Files.readAllBytes(raw));
    try (var files = Files.list(dir)) {
      assertEquals(2, files.count(), "no temporary files left behind");
    }
  }

  @Test
  void missingFile() {
    Path f = dir.resolve("nope-idx3-ubyte.gz");
    NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> IdxFile.read(f));
    assertMessage(e, f.toString(), "does not exist");
  }

  @Test
  void wrongMagic() throws IOException {
    Path f = file("bad-magic", idx(0x804, new int[] {1, 1, 1, 1}, new byte[1]));
    IOException e = assertThrows(IOException.class, () -> IdxFile.read(f));
    assertMessage(e, f.toString(), "magic number 0x00000804", "0x00000803", "0x00000801");

    Path labels = file("labels", idx(0x801, new int[] {2}, new byte[2]));
    IOException kind = assertThrows(IOException.class, () -> IdxFile.readImages(labels));
    assertMessage(kind, labels.toString(), "holds labels", "expected images");
  }

  @Test
  void truncatedFiles() throws IOException {
    Path data = file("short-data", idx(0x803, new int[] {5, 2, 2}, new byte[7]));
    IOException e = assertThrows(IOException.class, () -> IdxFile.read(data));
    assertMessage(e, data.toString(), "truncated", "promises 20 bytes", "only 7 follow");

    Path header = file("short-header", Arrays.copyOf(idx(0x803, new int[] {5, 2, 2}, new byte[0]), 9));
    assertMessage(assertThrows(IOException.class, () -> IdxFile.read(header)), header.toString(), "truncated",
        "needs 12 bytes of dimensions");

    Path tiny = file("tiny", new byte[] {0, 0});
    assertMessage(assertThrows(IOException.class, () -> IdxFile.read(tiny)), tiny.toString(), "too short");

    byte[] gz = gzip(idx(0x803, new int[] {50, 10, 10}, sequence(5000)));
    Path cut = file("cut.gz", Arrays.copyOf(gz, gz.length / 2));
    assertMessage(assertThrows(IOException.class, () -> IdxFile.read(cut)), cut.toString(), "truncated gzip");

    Path extra = file("extra", idx(0x801, new int[] {2}, new byte[3]));
    assertMessage(assertThrows(IOException.class, () -> IdxFile.read(extra)), extra.toString(),
        "bytes after the 2 data bytes");
  }

  @Test
  void imageAndLabelCountsMustAgree() throws IOException {
    IdxFile images = IdxFile.readImages(file("imgs", idx(0x803, new int[] {3, 2, 2}, new byte[12])));
    IdxFile labels = IdxFile.readLabels(file("lbls", idx(0x801, new int[] {2}, new byte[2])));
    IOException e = assertThrows(IOException.class, () -> LabeledImages.fromIdx(images, labels, 10, 0, 1));
    assertMessage(e, "count mismatch", images.source(), "3 images", labels.source(), "2 labels");

    IdxFile badLabels = IdxFile.readLabels(file("lbls3", idx(0x801, new int[] {3}, new byte[] {1, 10, 2})));
    IOException range = assertThrows(IOException.class, () -> LabeledImages.fromIdx(images, badLabels, 10, 0, 1));
    assertMessage(range, badLabels.source(), "label 1 is 10", "0..9");
  }
}
