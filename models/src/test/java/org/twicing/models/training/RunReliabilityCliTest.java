package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.IdxFile;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.TrainingCliTest.Result;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.MetricsLog;
import org.twicing.runtime.train.RunLock;

/**
 * Run directories through the command line: an existing run is never overwritten silently, a locked run refuses a
 * second trainer but can be read, and damaged run files give one line naming the file.
 */
class RunReliabilityCliTest {
  @TempDir
  static Path tmp;

  static Path fmnist;

  @BeforeAll
  static void data() throws IOException {
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    fmnist = tmp.resolve("fmnist");
    Files.createDirectories(fmnist);
    write(bundled.train(), 32, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS);
    write(bundled.test(), 16, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS);
  }

  private static void write(LabeledImages all, int n, String images, String labels) throws IOException {
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) {
      idx[i] = i * (all.size() / n);
    }
    LabeledImages sub = all.select(idx, "sub");
    IdxFile.write(fmnist.resolve(images + ".gz"), IdxFile.IMAGES_MAGIC, new int[] {n, 28, 28}, sub.rawPixels(), true);
    IdxFile.write(fmnist.resolve(labels + ".gz"), IdxFile.LABELS_MAGIC, new int[] {n}, sub.rawLabels(), true);
  }

  static Result train(Path out, String... more) {
    String[] base = {"train", "--data-dir", fmnist.toString(), "--steps", "2", "--batch", "4", "--eval-every", "0",
        "--threads", "1", "--out", out.toString()};
    String[] args = java.util.Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, args, base.length, more.length);
    return TrainingCliTest.run(args);
  }

  @Test
  void trainRefusesAnExistingRunUnlessResumingOrOverwriting() throws IOException {
    Path run = tmp.resolve("existing");
    Result first = train(run);
    assertEquals(0, first.code(), first.err());
    byte[] checkpoint = Files.readAllBytes(run.resolve(Checkpoint.FILE_NAME));
    Result again = train(run, "--seed", "5");
    assertEquals(TwicingCli.EXIT_USAGE, again.code(), again.out() + again.err());
    assertEquals(1, again.errLine().lines().count(), again.err());
    assertTrue(again.errLine().startsWith("twicing: error: " + run + ": already holds a run"), again.err());
    assertTrue(again.errLine().contains("--resume") && again.errLine().contains("--overwrite"), again.err());
    assertTrue(!again.out().contains("data:"), "refused before loading data: " + again.out());
    assertArrayEquals(checkpoint, Files.readAllBytes(run.resolve(Checkpoint.FILE_NAME)));

    Result over = train(run, "--seed", "5", "--stop-at", "1", "--overwrite");
    assertEquals(0, over.code(), over.err());
    assertTrue(over.out().contains("--overwrite: deleted the previous run's"), over.out());
    assertEquals(1, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    assertEquals(1, MetricsLog.read(run.resolve(MetricsLog.FILE_NAME)).size());
  }

  @Test
  void aLockedRunRefusesASecondTrainerButCanBeEvaluated() throws IOException {
    Path run = tmp.resolve("locked");
    assertEquals(0, train(run).code());
    try (RunLock lock = RunLock.acquire(run, line -> { })) {
      Result resumed = TrainingCliTest.run("train", "--resume", run.toString(), "--steps", "3", "--threads", "1");
      assertEquals(1, resumed.code(), resumed.out() + resumed.err());
      assertTrue(resumed.errLine().contains(run + ": run directory is in use by pid "
          + ProcessHandle.current().pid()), resumed.err());
      assertEquals(2, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
      Result eval = TrainingCliTest.run("eval", "--run", run.toString(), "--threads", "1");
      assertEquals(0, eval.code(), eval.err());
      assertTrue(eval.out().startsWith("test accuracy "), eval.out());
    }
  }
}
