package org.twicing.models.study;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.data.TextData;

/** The study's corpus split: by document, no document in two splits, and read back as TextData splits. */
class LmCorpusTest {
  @TempDir
  Path tmp;

  private Path fortunes(int docsPerFile) throws IOException {
    Path src = tmp.resolve("fortunes");
    Files.createDirectories(src);
    for (String name : List.of("alpha", "beta")) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < docsPerFile; i++) {
        if (i > 0) {
          sb.append("%\n");
        }
        sb.append("Document ").append(name).append(' ').append(i).append(" says something.\n  -- someone\n");
      }
      Files.writeString(src.resolve(name), sb);
      Files.write(src.resolve(name + ".dat"), new byte[] {0, 1, 2, (byte) 0xff}); // binary index: ignored
      Files.createSymbolicLink(src.resolve(name + ".u8"), src.resolve(name)); // link: ignored
    }
    return src;
  }

  @Test
  void splitsByDocumentWithoutOverlap() throws IOException {
    Path src = fortunes(25);
    Path out = tmp.resolve("corpus");
    LmCorpus.Split s = LmCorpus.prepare(src, out);
    assertEquals(50, s.trainDocs() + s.validDocs() + s.testDocs());
    assertEquals(5, s.testDocs());
    assertEquals(5, s.validDocs());
    List<Set<String>> docs = new ArrayList<>();
    for (String f : List.of(TextData.TRAIN_FILE, TextData.VALID_FILE, TextData.TEST_FILE)) {
      Set<String> set = new HashSet<>();
      for (String d : Files.readString(out.resolve(f)).split("\n\n")) {
        set.add(d.strip());
      }
      docs.add(set);
    }
    Set<String> all = new HashSet<>();
    int total = 0;
    for (Set<String> d : docs) {
      all.addAll(d);
      total += d.size();
    }
    assertEquals(50, all.size(), "every document once");
    assertEquals(50, total, "no document in two splits");
    assertTrue(all.contains("Document alpha 0 says something.\n  -- someone"));
    byte[] first = Files.readAllBytes(out.resolve(TextData.TRAIN_FILE));
    LmCorpus.prepare(src, out);
    assertArrayEquals(first, Files.readAllBytes(out.resolve(TextData.TRAIN_FILE)), "deterministic");
  }

  @Test
  void splitDirectoryIsReadAsItsSplits() throws IOException {
    Path out = tmp.resolve("corpus");
    LmCorpus.prepare(fortunes(40), out);
    TextData t = TextData.load(TextData.SCHEME + out);
    byte[] train = Files.readAllBytes(out.resolve(TextData.TRAIN_FILE));
    byte[] valid = Files.readAllBytes(out.resolve(TextData.VALID_FILE));
    assertArrayEquals(train, t.bytes(TextData.Split.TRAIN));
    assertArrayEquals(valid, t.bytes(TextData.Split.VALIDATION));
    TextData test = TextData.heldOut(out);
    assertArrayEquals(Files.readAllBytes(out.resolve(TextData.TEST_FILE)), test.bytes(TextData.Split.VALIDATION));
    assertEquals(0, test.size(TextData.Split.TRAIN));
  }

  @Test
  void missingCorpusNamesThePackage() {
    NoSuchFileException e = assertThrows(NoSuchFileException.class,
        () -> LmCorpus.prepare(tmp.resolve("nope"), tmp.resolve("out")));
    assertTrue(e.getMessage().contains("nope") && e.getMessage().contains("fortunes"), e.getMessage());
    assertThrows(NoSuchFileException.class, () -> TextData.heldOut(tmp));
  }

  @Test
  void invalidUtf8DocumentsAreSkippedAndCounted() throws IOException {
    Path src = tmp.resolve("bad");
    Files.createDirectories(src);
    byte[] good = "A fine document.\n%\n".getBytes(StandardCharsets.UTF_8);
    byte[] bad = {'B', 'a', 'd', (byte) 0xc3, '\n'};
    byte[] all = new byte[good.length + bad.length];
    System.arraycopy(good, 0, all, 0, good.length);
    System.arraycopy(bad, 0, all, good.length, bad.length);
    Files.write(src.resolve("mixed"), all);
    LmCorpus.Split s = LmCorpus.prepare(src, tmp.resolve("out"));
    assertEquals(1, s.skippedDocs());
    assertEquals(1, s.trainDocs() + s.validDocs() + s.testDocs());
  }
}
