package org.twicing.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** An Iterable of batches as a source: passes, positions, resumption, and the errors for empty or one-shot data. */
class IterableBatchesTest {
  /** Batch k: one example of shape [1, 2] holding k, k, with label k. */
  private static Batch batch(int k) {
    return Batch.ofFloats(new float[] {k, k}, new long[] {1, 2}, new long[] {k}, new long[] {1});
  }

  private static int id(Batch b) {
    float v = ((FloatBuffer) b.input()).get(0);
    assertEquals((long) v, b.labels().get(0), "input and label of one batch");
    return (int) v;
  }

  @Test
  void aListIsRepeatedPassAfterPassWithPositionsAndEpochs() {
    IterableBatches src = IterableBatches.of(List.of(batch(0), batch(1), batch(2)));
    assertEquals(3, src.batchesPerEpoch());
    List<Integer> ids = new ArrayList<>();
    List<String> next = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      Batch b = src.next();
      assertEquals(i / 3 + (i % 3) / 3.0, b.epoch(), 1e-12, "epoch at batch " + i);
      assertEquals(1, b.examples());
      assertArrayEquals(new long[] {1, 2}, b.inputShape());
      ids.add(id(b));
      next.add(b.nextPosition());
    }
    assertEquals(List.of(0, 1, 2, 0, 1, 2, 0), ids);
    assertEquals(List.of("0:1", "0:2", "0:3", "1:1", "1:2", "1:3", "2:1"), next);
  }

  @Test
  void seekingRestartsTheIterationAndSkipsToTheSavedBatch() {
    Iterable<Batch> data = () -> IntStream.range(0, 5).mapToObj(IterableBatchesTest::batch).iterator();
    IterableBatches a = IterableBatches.of(data);
    assertEquals(0, a.batchesPerEpoch(), "no known epoch length for a plain Iterable");
    List<Integer> run = new ArrayList<>();
    List<String> at = new ArrayList<>();
    for (int i = 0; i < 13; i++) {
      at.add(a.position());
      run.add(id(a.next()));
    }
    for (int from : new int[] {2, 5, 9}) {
      IterableBatches b = IterableBatches.of(data);
      b.seek(at.get(from));
      for (int i = from; i < 13; i++) {
        assertEquals(run.get(i), id(b.next()), "batch " + i + " after seeking to " + at.get(from));
      }
    }
    IllegalArgumentException beyond = assertThrows(IllegalArgumentException.class,
        () -> IterableBatches.of(data).seek("0:9"));
    assertTrue(beyond.getMessage().contains("only 5 batches"), beyond.getMessage());
  }

  @Test
  void emptyAndOneShotIterablesAreErrorsThatSaySo() {
    IllegalStateException empty = assertThrows(IllegalStateException.class,
        () -> IterableBatches.of(List.of(), "nothing").next());
    assertTrue(empty.getMessage().contains("nothing gave no batches"), empty.getMessage());
    Iterator<Batch> once = List.of(batch(0), batch(1)).iterator();
    IterableBatches oneShot = IterableBatches.of(() -> once, "a stream");
    oneShot.next();
    oneShot.next();
    IllegalStateException second = assertThrows(IllegalStateException.class, oneShot::next);
    assertTrue(second.getMessage().contains("one-shot"), second.getMessage());
  }
}
