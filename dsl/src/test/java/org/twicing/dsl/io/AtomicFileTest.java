package org.twicing.dsl.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Atomic writes and staged files: a reader sees the old content or the new, never a part, and no temp is left. */
class AtomicFileTest {
  @TempDir
  Path tmp;

  private List<Path> files() throws IOException {
    try (Stream<Path> s = Files.list(tmp)) {
      return s.sorted().toList();
    }
  }

  @Test
  void stagedFilesAppearOnlyWhenCommitted() throws IOException {
    Path a = tmp.resolve("model.onnx");
    Path b = tmp.resolve("model.onnx.data");
    Files.writeString(a, "old model");
    try (AtomicFile.Staged data = AtomicFile.stage(b, bytes("new data"));
        AtomicFile.Staged model = AtomicFile.stage(a, bytes("new model"))) {
      assertEquals("old model", Files.readString(a), "nothing is in place before commit");
      assertTrue(!Files.exists(b));
      data.commit();
      model.commit();
    }
    assertEquals("new model", Files.readString(a));
    assertEquals("new data", Files.readString(b));
    assertEquals(List.of(a, b), files(), "no temporary file is left");
  }

  @Test
  void anUncommittedStageLeavesTheTargetAndNoTemp() throws IOException {
    Path a = tmp.resolve("checkpoint.safetensors");
    Files.writeString(a, "old");
    try (AtomicFile.Staged s = AtomicFile.stage(a, bytes("new"))) {
      assertEquals(2, files().size(), "the staged bytes wait in a temporary sibling");
    }
    assertEquals("old", Files.readString(a));
    assertEquals(List.of(a), files());
  }

  @Test
  void aFailingWriterLeavesTheOldFile() throws IOException {
    Path a = tmp.resolve("metrics.jsonl");
    Files.writeString(a, "old");
    assertThrows(IOException.class, () -> AtomicFile.write(a, ch -> {
      ch.write(ByteBuffer.wrap("partial".getBytes(StandardCharsets.UTF_8)));
      throw new IOException("disk failed");
    }));
    assertEquals("old", Files.readString(a));
    assertEquals(List.of(a), files());
    AtomicFile.write(a, "new".getBytes(StandardCharsets.UTF_8));
    assertArrayEquals("new".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(a));
  }

  private static AtomicFile.Content bytes(String s) {
    return ch -> ch.write(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)));
  }
}
