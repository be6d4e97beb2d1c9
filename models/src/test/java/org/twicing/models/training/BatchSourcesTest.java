package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.TextData;
import org.twicing.runtime.train.Batch;

/** The data adapters: shapes, positions, and exact continuation after seek. */
class BatchSourcesTest {
  @TempDir
  Path tmp;

  private static float[] floats(Batch b) {
    FloatBuffer f = ((FloatBuffer) b.input()).duplicate();
    float[] out = new float[f.remaining()];
    f.get(out);
    return out;
  }

  private static long[] longs(LongBuffer l) {
    LongBuffer d = l.duplicate();
    long[] out = new long[d.remaining()];
    d.get(out);
    return out;
  }

  @Test
  void fashionMnistBatchesResumeExactlyAcrossEpochs() throws IOException {
    FashionMnist data = FashionMnist.loadBundledSubset();
    FashionMnistBatches a = new FashionMnistBatches(data.train(), 512, 7);
    assertEquals(data.train().size() / 512, a.batchesPerEpoch());
    Batch first = a.next();
    assertArrayEquals(new long[] {512, 1, 28, 28}, first.inputShape());
    assertArrayEquals(new long[] {512}, first.labelShape());
    assertEquals("0:1", first.nextPosition());
    assertEquals(0.0, first.epoch());
    for (int i = 1; i < 10; i++) {
      a.next(); // crosses into epoch 1 (7 batches per epoch)
    }
    String pos = a.position();
    assertEquals("1:3", pos);
    Batch expected = a.next();
    FashionMnistBatches b = new FashionMnistBatches(data.train(), 512, 7);
    b.seek(pos);
    Batch got = b.next();
    assertArrayEquals(floats(expected), floats(got));
    assertArrayEquals(longs(expected.labels()), longs(got.labels()));
    assertEquals(1 + 3 / 7.0, got.epoch(), 1e-12);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.seek("banana"));
    assertTrue(e.getMessage().contains("'banana'"), e.getMessage());
  }

  @Test
  void textBatchesResumeExactly() throws IOException {
    Path f = tmp.resolve("t.txt");
    Files.writeString(f, "the quick brown fox jumps over the lazy dog. ".repeat(50));
    TextData text = TextData.load("text:" + f);
    TextBatches a = new TextBatches(text, 4, 16, 3);
    Batch b0 = a.next();
    assertArrayEquals(new long[] {4, 16}, b0.inputShape());
    long[] tokens = longs((LongBuffer) b0.input());
    long[] labels = longs(b0.labels());
    for (int i = 0; i < 15; i++) {
      assertEquals(tokens[i + 1], labels[i]); // next-byte labels
    }
    a.next();
    String pos = a.position();
    assertEquals("2", pos);
    Batch expected = a.next();
    TextBatches b = new TextBatches(text, 4, 16, 3);
    b.seek(pos);
    assertArrayEquals(longs((LongBuffer) expected.input()), longs((LongBuffer) b.next().input()));
    assertTrue(a.batchesPerEpoch() >= 1);
  }
}
