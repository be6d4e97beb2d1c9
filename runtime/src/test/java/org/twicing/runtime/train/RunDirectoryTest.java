package org.twicing.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.dsl.io.AtomicFile;
import org.twicing.runtime.SessionOptionsSpec;

/** A run directory belongs to one run: the lock, stale locks of dead processes, refusing or overwriting old runs. */
class RunDirectoryTest {
  private static final SessionOptionsSpec ONE_THREAD = SessionOptionsSpec.builder().intraOpThreads(1)
      .interOpThreads(1).build();

  @TempDir
  Path tmp;

  private final ByteArrayOutputStream log = new ByteArrayOutputStream();

  private TrainerConfig.Builder config(Path dir, long steps) {
    return TrainerConfig.builder(TinyVit.model()).runDir(dir).steps(steps).seed(3).sessionOptions(ONE_THREAD)
        .schedule(LrSchedule.constant(1e-3)).out(new PrintStream(log, true, StandardCharsets.UTF_8))
        .progressBar(false).finalArtifacts(false);
  }

  private String printed() {
    return log.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aSecondRunInTheSameDirectoryIsRefusedWhileTheFirstHoldsIt() throws IOException {
    Path run = tmp.resolve("run");
    try (RunLock held = RunLock.acquire(run, line -> { })) {
      RunLockedException e = assertThrows(RunLockedException.class,
          () -> new Trainer(config(run, 2).build()).train(new TinyVit.Source(4)));
      assertTrue(e.getMessage().startsWith(run + ": run directory is in use by pid "
          + ProcessHandle.current().pid() + " on host "), e.getMessage());
      assertTrue(e.getMessage().contains(run.resolve(RunLock.FILE_NAME).toString()), e.getMessage());
      assertFalse(Files.exists(run.resolve(Checkpoint.FILE_NAME)));
    }
    // Released: the next run takes the directory without any notice of a stale lock.
    new Trainer(config(run, 2).build()).train(new TinyVit.Source(4));
    assertEquals(2, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    assertFalse(printed().contains("stale"), printed());
  }

  @Test
  void aLockHeldByAnotherProcessIsRespectedAndTakenOverOnceThatProcessIsKilled() throws Exception {
    Path run = tmp.resolve("run");
    String java = ProcessHandle.current().info().command().orElse("java");
    Process holder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        RunLockHolder.class.getName(), run.toString()).redirectErrorStream(true).start();
    try {
      BufferedReader r = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("locked", r.readLine());
      RunLockedException e = assertThrows(RunLockedException.class, () -> RunLock.acquire(run, line -> { }));
      assertTrue(e.getMessage().contains("in use by pid " + holder.pid() + " on host "), e.getMessage());
      assertEquals(holder.pid(), e.owner().pid());
    } finally {
      holder.destroyForcibly();
      holder.waitFor();
    }
    // Killed holding the lock: its lock file still names it, and the next run takes over with a notice.
    assertTrue(Files.readString(run.resolve(RunLock.FILE_NAME)).contains("pid=" + holder.pid()));
    List<String> notices = new ArrayList<>();
    try (RunLock lock = RunLock.acquire(run, notices::add)) {
      assertEquals(1, notices.size(), notices.toString());
      assertTrue(notices.get(0).contains("stale lock") && notices.get(0).contains("pid " + holder.pid()),
          notices.get(0));
      assertTrue(Files.readString(run.resolve(RunLock.FILE_NAME))
          .contains("pid=" + ProcessHandle.current().pid()));
    }
    // A clean release leaves an empty lock file, which is not stale.
    assertEquals("", Files.readString(run.resolve(RunLock.FILE_NAME)));
  }

  @Test
  void trainingIntoAnotherRunIsRefusedUnlessItResumesOrOverwrites() throws IOException {
    Path run = tmp.resolve("run");
    new Trainer(config(run, 3).build()).train(new TinyVit.Source(4));
    byte[] first = Files.readAllBytes(run.resolve(Checkpoint.FILE_NAME));
    RunDirectory.ExistingRunException e = assertThrows(RunDirectory.ExistingRunException.class,
        () -> new Trainer(config(run, 2).seed(9).build()).train(new TinyVit.Source(4)));
    assertTrue(e.getMessage().startsWith(run + ": already holds a run (checkpoint.safetensors, metrics.jsonl)"),
        e.getMessage());
    assertTrue(Arrays.equals(first, Files.readAllBytes(run.resolve(Checkpoint.FILE_NAME))));
    assertEquals(3, MetricsLog.read(run.resolve(MetricsLog.FILE_NAME)).size());
    // Resuming the run's own checkpoint continues it.
    new Trainer(config(run, 5).resumeFrom(run.resolve(Checkpoint.FILE_NAME)).build()).train(new TinyVit.Source(4));
    assertEquals(5, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    // Overwriting replaces every file of the old run: nothing of its 5 steps is left beside the new 2.
    new Trainer(config(run, 2).seed(9).overwrite(true).build()).train(new TinyVit.Source(4));
    assertEquals(2, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    assertEquals(2, MetricsLog.read(run.resolve(MetricsLog.FILE_NAME)).size());
    assertTrue(printed().contains("--overwrite: deleted the previous run's checkpoint.safetensors, metrics.jsonl"),
        printed());
  }

  @Test
  void aFullDiskNamesTheFileThatCouldNotBeWritten() throws IOException {
    Path target = tmp.resolve(Checkpoint.FILE_NAME);
    IOException e = assertThrows(IOException.class, () -> AtomicFile.write(target, ch -> {
      throw new IOException("No space left on device");
    }));
    assertEquals("cannot write " + target + ": No space left on device", e.getMessage());
    try (Stream<Path> files = Files.list(tmp)) {
      assertEquals(List.of(), files.toList());
    }
  }

  @Test
  void temporaryFilesOfAKilledWriteAreRemovedWhenTheRunIsOpenedAgain() throws IOException {
    Path run = tmp.resolve("run");
    new Trainer(config(run, 2).build()).train(new TinyVit.Source(4));
    Path leftover = Files.write(run.resolve(".checkpoint.safetensors.5f3a9c0e12b4d6f8.tmp"), new byte[100]);
    Path modelLeftover = Files.write(run.resolve(".model.onnx8237492374123.tmp"), new byte[10]);
    Path unrelated = Files.write(run.resolve("notes.tmp"), new byte[1]);
    Path unrelatedHidden = Files.write(run.resolve(".mydata.tmp"), new byte[1]);
    new Trainer(config(run, 4).resumeFrom(run.resolve(Checkpoint.FILE_NAME)).build()).train(new TinyVit.Source(4));
    assertFalse(Files.exists(leftover));
    assertFalse(Files.exists(modelLeftover));
    assertTrue(Files.exists(unrelated) && Files.exists(unrelatedHidden));
    assertTrue(printed().contains("removed 2 temporary files left in " + run + " by an interrupted write: "),
        printed());
    assertTrue(printed().contains(leftover.getFileName().toString())
        && printed().contains(modelLeftover.getFileName().toString()), printed());
  }

  @Test
  void aRequestedStopFinishesTheStepWritesTheCheckpointAndResumesExactly() throws IOException {
    Path full = tmp.resolve("full");
    TrainResult reference = new Trainer(config(full, 12).build()).train(new TinyVit.Source(4));
    Path run = tmp.resolve("stopped");
    Trainer[] trainer = new Trainer[1];
    BatchSource stopsAtFive = new TinyVit.Source(4) {
      private int calls;

      @Override
      public Batch next() {
        if (++calls == 5) {
          trainer[0].requestStop(); // as a signal would, while step 5 is under way
        }
        return super.next();
      }
    };
    trainer[0] = new Trainer(config(run, 12).checkpointEvery(100).prefetch(false).finalArtifacts(true).build());
    TrainResult r = trainer[0].train(stopsAtFive);
    assertTrue(r.stopped());
    assertEquals(5, r.endStep());
    assertEquals(5, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    assertEquals(5, MetricsLog.read(run.resolve(MetricsLog.FILE_NAME)).size());
    assertFalse(Files.exists(run.resolve(Trainer.MODEL_FILE)), "no final model for a stopped run");
    TrainResult rest = new Trainer(config(run, 12).resumeFrom(run.resolve(Checkpoint.FILE_NAME)).build())
        .train(new TinyVit.Source(4));
    assertFalse(rest.stopped());
    assertArrayEquals(Arrays.copyOfRange(reference.losses(), 5, 12),
        rest.losses(), 0f);
  }
}
