package org.twicing.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Shuffled mini-batches: determinism by seed, coverage, partial batches, contents and exact resumption. */
class BatchesTest {
  private static final int N = 10;

  /** Ten 2x3 images whose pixels encode the image index (pixel p of image i is 10 * i + p) and label i % 3. */
  private static LabeledImages tenImages() {
    byte[] pixels = new byte[N * 6];
    byte[] labels = new byte[N];
    for (int i = 0; i < N; i++) {
      for (int p = 0; p < 6; p++) {
        pixels[i * 6 + p] = (byte) (10 * i + p);
      }
      labels[i] = (byte) (i % 3);
    }
    return LabeledImages.of("ten", 2, 3, pixels, labels, 0.5, 0.25);
  }

  private static List<Integer> indicesOf(BatchIterator it, int batches) {
    List<Integer> out = new ArrayList<>();
    for (int b = 0; b < batches; b++) {
      for (int i : it.next().indices()) {
        out.add(i);
      }
    }
    return out;
  }

  @Test
  void sameSeedGivesTheSameOrderAndOtherSeedsDiffer() {
    LabeledImages data = tenImages();
    Batches a = Batches.over(data).batchSize(4).seed(42).build();
    Batches b = Batches.over(data).batchSize(4).seed(42).build();
    Batches c = Batches.over(data).batchSize(4).seed(43).build();
    assertEquals(indicesOf(a.iterator(), 9), indicesOf(b.iterator(), 9));
    assertFalse(indicesOf(a.iterator(), 9).equals(indicesOf(c.iterator(), 9)));
    assertFalse(Arrays.equals(a.epochOrder(0), a.epochOrder(1)), "each epoch is shuffled afresh");
  }

  @Test
  void everyEpochVisitsEachExampleOnceWithAPartialLastBatch() {
    Batches batches = Batches.over(tenImages()).batchSize(4).seed(7).build();
    assertEquals(3, batches.batchesPerEpoch());
    BatchIterator it = batches.iterator();
    for (int epoch = 0; epoch < 3; epoch++) {
      List<Integer> seen = new ArrayList<>();
      int[] sizes = new int[3];
      for (int b = 0; b < 3; b++) {
        assertEquals(new BatchPosition(epoch, b), it.position());
        ImageBatch batch = it.next();
        sizes[b] = batch.size();
        for (int i : batch.indices()) {
          seen.add(i);
        }
      }
      assertArrayEquals(new int[] {4, 4, 2}, sizes);
      seen.sort(null);
      assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), seen, "epoch " + epoch + " is a permutation");
    }
  }

  @Test
  void dropLastSkipsThePartialBatch() {
    Batches batches = Batches.over(tenImages()).batchSize(4).seed(7).dropLast(true).build();
    assertEquals(2, batches.batchesPerEpoch());
    BatchIterator it = batches.iterator();
    it.next();
    it.next();
    assertEquals(new BatchPosition(1, 0), it.position());
    assertEquals(4, it.next().size());
    assertThrows(IllegalArgumentException.class,
        () -> Batches.over(tenImages()).batchSize(11).dropLast(true).build());
  }

  @Test
  void batchArraysHoldTheNormalisedImagesAndLabelsOfTheirIndices() {
    Batches batches = Batches.over(tenImages()).batchSize(4).seed(3).build();
    ImageBatch batch = batches.iterator().next();
    assertArrayEquals(new long[] {4, 1, 2, 3}, batch.imageShape());
    assertArrayEquals(new long[] {4}, batch.labelShape());
    assertEquals(24, batch.images().length);
    int[] idx = batch.indices();
    for (int k = 0; k < 4; k++) {
      assertEquals(idx[k] % 3, batch.labels()[k]);
      for (int p = 0; p < 6; p++) {
        double expected = ((10 * idx[k] + p) / 255.0 - 0.5) / 0.25;
        assertEquals(expected, batch.images()[k * 6 + p], 1e-6);
      }
    }
    assertEquals(batch.images()[5], batch.imageBuffer().get(5));
    assertEquals(batch.labels()[3], batch.labelBuffer().get(3));
  }

  @Test
  void resumingFromASavedPositionReproducesTheRemainingBatches() {
    Batches batches = Batches.over(tenImages()).batchSize(3).seed(99).build();
    BatchIterator original = batches.iterator();
    for (int i = 0; i < 7; i++) { // into the second epoch (4 batches per epoch)
      original.next();
    }
    String saved = original.position().format();
    assertEquals("1:3", saved);
    BatchIterator resumed = Batches.over(tenImages()).batchSize(3).seed(99).build()
        .iterator(BatchPosition.parse(saved));
    for (int i = 0; i < 10; i++) {
      ImageBatch expected = original.next();
      ImageBatch actual = resumed.next();
      assertArrayEquals(expected.indices(), actual.indices(), "batch " + i + " after resuming");
      assertArrayEquals(expected.images(), actual.images());
      assertArrayEquals(expected.labels(), actual.labels());
      assertEquals(original.position(), resumed.position());
    }
    assertThrows(IllegalArgumentException.class, () -> batches.iterator(new BatchPosition(0, 4)));
    assertThrows(IllegalArgumentException.class, () -> BatchPosition.parse("epoch 3"));
  }

  @Test
  void unshuffledBatchesKeepDataOrderAndOneEpochEnds() {
    Batches batches = Batches.over(tenImages()).batchSize(4).shuffle(false).build();
    List<Integer> seen = new ArrayList<>();
    int count = 0;
    for (ImageBatch b : batches.epoch(5)) {
      count++;
      for (int i : b.indices()) {
        seen.add(i);
      }
    }
    assertEquals(3, count);
    assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), seen);
  }

  @Test
  void shuffleIsRoughlyUniform() {
    // Over many epochs each index should lead an epoch about 1/N of the time; a biased shuffle would not.
    Batches batches = Batches.over(tenImages()).batchSize(N).seed(1).build();
    int[] first = new int[N];
    int epochs = 20000;
    for (int e = 0; e < epochs; e++) {
      first[batches.epochOrder(e)[0]]++;
    }
    for (int i = 0; i < N; i++) {
      assertTrue(Math.abs(first[i] - epochs / N) < 200, "index " + i + " led " + first[i] + " epochs");
    }
  }
}
