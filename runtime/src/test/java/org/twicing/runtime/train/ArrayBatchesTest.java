package org.twicing.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.runtime.SessionOptionsSpec;

/**
 * The in-memory batch source: every example once per epoch with its own label, shapes, partial and dropped last
 * batches, exact resumption from any position, and errors naming what is wrong.
 */
class ArrayBatchesTest {
  @TempDir
  Path tmp;

  /** n examples of shape [2, 3]: example i holds 1000 i + 0..5, so a value tells which example it came from. */
  private static float[] inputs(int n) {
    float[] x = new float[n * 6];
    for (int i = 0; i < x.length; i++) {
      x[i] = 1000f * (i / 6) + i % 6;
    }
    return x;
  }

  /** Label of example i: 7 i (int64, one per example). */
  private static long[] labels(int n) {
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = 7L * i;
    }
    return y;
  }

  /** Reads back which examples a batch holds, checking each example's values and label belong together. */
  private static List<Integer> examplesOf(Batch b) {
    FloatBuffer in = ((FloatBuffer) b.input()).duplicate();
    LongBuffer lab = b.labels().duplicate();
    List<Integer> ids = new ArrayList<>();
    for (int k = 0; k < b.examples(); k++) {
      int id = (int) (in.get(k * 6) / 1000f);
      for (int j = 0; j < 6; j++) {
        assertEquals(1000f * id + j, in.get(k * 6 + j), "value " + j + " of example " + id);
      }
      assertEquals(7L * id, lab.get(k), "label of example " + id);
      ids.add(id);
    }
    return ids;
  }

  @Test
  void everyEpochVisitsEveryExampleOnceWithItsLabelAndAPartialLastBatch() {
    ArrayBatches src = ArrayBatches.floats(inputs(10), 2, 3).labels(labels(10)).batchSize(4).shuffle(5).build();
    assertEquals(3, src.batchesPerEpoch());
    List<List<Integer>> epochs = new ArrayList<>();
    for (int e = 0; e < 2; e++) {
      List<Integer> seen = new ArrayList<>();
      for (int b = 0; b < 3; b++) {
        assertEquals(e + ":" + b, src.position());
        Batch batch = src.next();
        int want = b < 2 ? 4 : 2;
        assertEquals(want, batch.examples());
        assertArrayEquals(new long[] {want, 2, 3}, batch.inputShape());
        assertArrayEquals(new long[] {want}, batch.labelShape());
        assertEquals(e + b / 3.0, batch.epoch(), 1e-12);
        assertEquals(b < 2 ? e + ":" + (b + 1) : (e + 1) + ":0", batch.nextPosition());
        seen.addAll(examplesOf(batch));
      }
      List<Integer> sorted = new ArrayList<>(seen);
      sorted.sort(null);
      assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), sorted, "epoch " + e + " visits each example once");
      epochs.add(seen);
    }
    assertFalse(epochs.get(0).equals(epochs.get(1)), "a new order each epoch: " + epochs);
    int[] order = src.epochOrder(1);
    assertEquals(epochs.get(1), Arrays.stream(order).boxed().toList());
  }

  @Test
  void inOrderKeepsArrayOrderAndDropLastDropsThePartialBatch() {
    ArrayBatches src = ArrayBatches.floats(inputs(10), 2, 3).labels(labels(10)).batchSize(4).inOrder()
        .dropLast(true).build();
    assertEquals(2, src.batchesPerEpoch());
    assertEquals(List.of(0, 1, 2, 3), examplesOf(src.next()));
    assertEquals(List.of(4, 5, 6, 7), examplesOf(src.next()));
    assertEquals("1:0", src.position());
    assertEquals(List.of(0, 1, 2, 3), examplesOf(src.next()));
  }

  @Test
  void seekingToASavedPositionRepeatsTheSameBatches() {
    ArrayBatches a = ArrayBatches.floats(inputs(9), 2, 3).labels(labels(9)).batchSize(2).shuffle(11).build();
    List<List<Integer>> run = new ArrayList<>();
    List<String> positions = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      positions.add(a.position());
      run.add(examplesOf(a.next()));
    }
    for (int from : new int[] {0, 3, 5, 10}) {
      ArrayBatches b = ArrayBatches.floats(inputs(9), 2, 3).labels(labels(9)).batchSize(2).shuffle(11).build();
      b.seek(positions.get(from));
      for (int i = from; i < 12; i++) {
        assertEquals(run.get(i), examplesOf(b.next()), "batch " + i + " after seeking to " + positions.get(from));
      }
    }
  }

  @Test
  void tokenInputsAndPerTokenLabelsKeepTheirShapes() {
    long[] tokens = new long[3 * 4];
    long[] targets = new long[3 * 4];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = i;
      targets[i] = i + 100;
    }
    ArrayBatches src = ArrayBatches.longs(tokens, 4).labels(targets, 4).batchSize(2).inOrder().build();
    Batch b = src.next();
    assertArrayEquals(new long[] {2, 4}, b.inputShape());
    assertArrayEquals(new long[] {2, 4}, b.labelShape());
    LongBuffer in = (LongBuffer) b.input();
    for (int i = 0; i < 8; i++) {
      assertEquals(i, in.get(i));
      assertEquals(i + 100, b.labels().get(i));
    }
  }

  @Test
  void badDataAndPositionsAreErrorsNamingTheProblem() {
    IllegalArgumentException ragged = assertThrows(IllegalArgumentException.class,
        () -> ArrayBatches.floats(new float[13], 2, 3).labels(new long[2]).batchSize(1).build());
    assertTrue(ragged.getMessage().contains("13 values") && ragged.getMessage().contains("[2, 3]"),
        ragged.getMessage());
    IllegalArgumentException labels = assertThrows(IllegalArgumentException.class,
        () -> ArrayBatches.floats(inputs(4), 2, 3).labels(new long[3]).batchSize(2).build());
    assertTrue(labels.getMessage().contains("3 values") && labels.getMessage().contains("need 4"),
        labels.getMessage());
    IllegalArgumentException noLabels = assertThrows(IllegalArgumentException.class,
        () -> ArrayBatches.floats(inputs(4), 2, 3).batchSize(2).build());
    assertTrue(noLabels.getMessage().contains("labels("), noLabels.getMessage());
    IllegalArgumentException noBatch = assertThrows(IllegalArgumentException.class,
        () -> ArrayBatches.floats(inputs(4), 2, 3).labels(labels(4)).build());
    assertTrue(noBatch.getMessage().contains("batchSize(int)"), noBatch.getMessage());
    ArrayBatches src = ArrayBatches.floats(inputs(4), 2, 3).labels(labels(4)).batchSize(2).build();
    IllegalArgumentException malformed = assertThrows(IllegalArgumentException.class, () -> src.seek("x"));
    assertTrue(malformed.getMessage().contains("'x'") && malformed.getMessage().contains("EPOCH:BATCH"),
        malformed.getMessage());
    IllegalArgumentException beyond = assertThrows(IllegalArgumentException.class, () -> src.seek("0:2"));
    assertTrue(beyond.getMessage().contains("only 2 batches"), beyond.getMessage());
  }

  @Test
  void theTrainerLearnsFromArraysInMemory() throws IOException {
    // 256 synthetic quadrant images (class c: a bright block in quadrant c), copied into plain arrays.
    Batch all = TinyVit.Source.make(0, 256, 5, false);
    float[] pixels = new float[256 * 784];
    ((FloatBuffer) all.input()).duplicate().get(pixels);
    long[] labels = new long[256];
    all.labels().duplicate().get(labels);
    ArrayBatches data = ArrayBatches.floats(pixels, 1, 28, 28).labels(labels).batchSize(32).shuffle(1).build();
    TrainerConfig cfg = TrainerConfig.builder(TinyVit.model()).runDir(tmp).steps(80).seed(2)
        .schedule(LrSchedule.warmupConstant(3e-3, 5)).out(new PrintStream(new ByteArrayOutputStream(), true,
            StandardCharsets.UTF_8)).progressBar(false).finalArtifacts(false)
        .sessionOptions(SessionOptionsSpec.builder().intraOpThreads(1).interOpThreads(1).build()).build();
    TrainResult r = new Trainer(cfg).train(data);
    float[] losses = r.losses();
    assertEquals(80, losses.length);
    double first = (losses[0] + losses[1] + losses[2] + losses[3]) / 4;
    double last = (losses[76] + losses[77] + losses[78] + losses[79]) / 4;
    assertTrue(Math.abs(first - Math.log(4)) < 0.3, "starts near ln 4 (4 classes): " + first);
    assertTrue(last < 0.5 * first, "the loss halves within 80 steps: " + Arrays.toString(losses));
  }
}
