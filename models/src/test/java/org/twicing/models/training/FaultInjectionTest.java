package org.twicing.models.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.io.SafetensorsFile;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.training.TrainingCliTest.Result;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.MetricsLog;
import org.twicing.runtime.train.RunLock;

/**
 * {@code twicing train} in child processes that are killed: with SIGKILL at random points and inside checkpoint
 * and model writes, then resumed, the run ends with exactly the weights, optimizer state and model file of an
 * uninterrupted run, a complete metrics log and no temporary files; SIGTERM and SIGINT stop it cleanly with a
 * checkpoint and a resume hint.
 */
class FaultInjectionTest {
  private static final int STEPS = 8;

  @TempDir
  static Path tmp;

  static Path text;

  @BeforeAll
  static void data() throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 60; i++) {
      sb.append("Line ").append(i).append(": twicing attention smooths the residual once more.\n");
    }
    text = Files.writeString(tmp.resolve("corpus.txt"), sb);
  }

  /** The options of every run here: lm-tiny (no dropout) on one thread, so resuming is bit-exact. */
  private static List<String> trainArgs(Path out, String... more) {
    List<String> a = new ArrayList<>(List.of("train", "--data", "text:" + text, "--steps", Integer.toString(STEPS),
        "--batch", "2", "--threads", "1", "--eval-every", "0", "--checkpoint-every", "1", "--out", out.toString()));
    a.addAll(List.of(more));
    return a;
  }

  /** A child JVM running the CLI with {@code args}; stderr goes to stdout. */
  private static Process child(List<String> args, String... prefix) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(prefix));
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), TwicingCli.class.getName()));
    cmd.addAll(args);
    return new ProcessBuilder(cmd).redirectErrorStream(true).start();
  }

  /** Everything a child prints, collected on a background thread so that its pipe never fills up. */
  private static CompletableFuture<String> output(Process p) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "(output unreadable: " + e + ")";
      }
    });
  }

  /** Whether {@code dir} holds a temporary file whose name starts with {@code "." + prefix}. */
  private static boolean hasTemp(Path dir, String prefix) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.anyMatch(p -> {
        String n = p.getFileName().toString();
        return n.startsWith("." + prefix) && n.endsWith(".tmp");
      });
    } catch (IOException e) {
      return false; // the directory does not exist yet
    }
  }

  /** Kills {@code p} with SIGKILL once {@code trigger} holds (polled), or leaves it when it ends first. */
  private static void killWhen(Process p, BooleanSupplier trigger) throws InterruptedException {
    while (p.isAlive()) {
      if (trigger.getAsBoolean()) {
        p.destroyForcibly();
        break;
      }
      Thread.onSpinWait();
    }
    p.waitFor();
  }

  @Test
  void killedAtRandomPointsAndInsideWritesThenResumedEqualsAnUninterruptedRun() throws Exception {
    Path reference = tmp.resolve("reference");
    Result ref = TrainingCliTest.run(trainArgs(reference).toArray(String[]::new));
    assertEquals(0, ref.code(), ref.out() + ref.err());

    Path run = tmp.resolve("faulty");
    Random rng = new Random(20261130);
    // Fault points: inside a checkpoint write (its temporary file exists), inside the final model write, and after
    // random numbers of completed steps (the checkpoint file's step), each by SIGKILL.
    List<String> plan = List.of("checkpoint-write", "random-step", "checkpoint-write", "model-write");
    List<String> log = new ArrayList<>();
    for (String fault : plan) {
      boolean resume = Files.exists(run.resolve(Checkpoint.FILE_NAME));
      List<String> args = resume
          ? List.of("train", "--resume", run.toString(), "--threads", "1", "--eval-every", "0",
              "--checkpoint-every", "1")
          : trainArgs(run, "--overwrite");
      Process p = child(args);
      CompletableFuture<String> out = output(p);
      long target = 1 + rng.nextInt(STEPS - 1);
      switch (fault) {
        case "checkpoint-write" -> killWhen(p, () -> hasTemp(run, Checkpoint.FILE_NAME));
        case "model-write" -> killWhen(p, () -> hasTemp(run, "model.onnx"));
        default -> killWhen(p, () -> {
          try {
            Thread.sleep(2); // reading the header is cheap, but not free
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return stepOf(run) >= target;
        });
      }
      log.add(fault + " (" + (resume ? "resumed" : "fresh") + ") -> exit " + p.exitValue() + ", checkpoint at step "
          + stepOf(run) + ": " + out.get().lines().reduce((a, b) -> b).orElse(""));
    }
    // Finally an uninterrupted resume (or a fresh start when no checkpoint survived) to the end.
    boolean resume = Files.exists(run.resolve(Checkpoint.FILE_NAME));
    Process last = child(resume ? List.of("train", "--resume", run.toString(), "--threads", "1", "--eval-every", "0",
        "--checkpoint-every", "1") : trainArgs(run, "--overwrite"));
    CompletableFuture<String> lastOut = output(last);
    assertEquals(0, last.waitFor(), String.join("\n", log) + "\n" + lastOut.get());
    String history = String.join("\n", log) + "\nfinal run:\n" + lastOut.get();
    System.out.println("[fault injection]\n" + history);

    // The same weights and optimizer state, bit for bit, and the same model file.
    SafetensorsFile a = Safetensors.read(reference.resolve(Checkpoint.FILE_NAME));
    SafetensorsFile b = Safetensors.read(run.resolve(Checkpoint.FILE_NAME));
    assertEquals(a.tensors().keySet(), b.tensors().keySet(), history);
    for (String name : a.tensors().keySet()) {
      assertArrayEquals(a.tensors().get(name).toDoubles(), b.tensors().get(name).toDoubles(), 0.0,
          name + "\n" + history);
    }
    assertEquals(STEPS, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    assertArrayEquals(Files.readAllBytes(reference.resolve("model.onnx")), Files.readAllBytes(run.resolve("model.onnx")),
        "model.onnx differs from the uninterrupted run's\n" + history);
    // Every step logged exactly once, with the uninterrupted run's losses.
    List<Map<String, Double>> want = MetricsLog.read(reference.resolve(MetricsLog.FILE_NAME));
    List<Map<String, Double>> got = MetricsLog.read(run.resolve(MetricsLog.FILE_NAME));
    assertEquals(STEPS, got.size(), history);
    for (int i = 0; i < STEPS; i++) {
      assertEquals(i + 1, got.get(i).get("step"), history);
      assertEquals(want.get(i).get("loss"), got.get(i).get("loss"), history);
    }
    // No temporary file left behind, and the lock released.
    try (Stream<Path> s = Files.list(run)) {
      List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
      assertFalse(names.stream().anyMatch(n -> n.endsWith(".tmp")), names + "\n" + history);
    }
    assertEquals("", Files.readString(run.resolve(RunLock.FILE_NAME)));
  }

  /** The step of {@code run}'s checkpoint, or 0 when there is none (yet) or it is being replaced. */
  private static long stepOf(Path run) {
    try (var r = Safetensors.open(run.resolve(Checkpoint.FILE_NAME))) {
      return Long.parseLong(r.metadata().getOrDefault(Checkpoint.KEY_STEP, "0"));
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  @Test
  void sigtermAndSigintFinishTheStepWriteTheCheckpointAndSayHowToResume() throws Exception {
    Path run = tmp.resolve("signalled");
    // Evaluating every step prints a line per step, which tells when training is under way; checkpoints would
    // only be written at the end, so the one found after the signal was written because of it.
    List<String> args = new ArrayList<>(List.of("train", "--data", "text:" + text, "--steps", "100000", "--batch",
        "2", "--threads", "1", "--eval-every", "1", "--checkpoint-every", "0", "--out", run.toString()));
    int[] signals = {15, 2};
    for (int signal : signals) {
      // env --default-signal: a child of a non-interactive shell may start with SIGINT ignored, and then the JVM
      // leaves it ignored; the reset makes SIGINT reach the JVM as a terminal's Ctrl-C would.
      Process p = child(args, "env", "--default-signal=INT");
      BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      StringBuilder printed = new StringBuilder();
      int stepLines = 0;
      String line;
      while (stepLines < 2 && (line = r.readLine()) != null) {
        printed.append(line).append('\n');
        stepLines += line.startsWith("step ") ? 1 : 0;
      }
      assertEquals(2, stepLines, printed.toString());
      new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).inheritIO().start().waitFor();
      while ((line = r.readLine()) != null) {
        printed.append(line).append('\n');
      }
      assertEquals(128 + signal, p.waitFor(), printed.toString());
      long step = Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step();
      assertTrue(step >= 2, printed.toString());
      assertEquals(step, MetricsLog.read(run.resolve(MetricsLog.FILE_NAME)).size(), printed.toString());
      assertTrue(printed.toString().contains("stopped by a signal after step " + step + " of 100000; wrote "
          + run.resolve(Checkpoint.FILE_NAME) + "; continue with: twicing train --resume " + run), printed.toString());
      assertFalse(Files.exists(run.resolve("model.onnx")), printed.toString());
      args = new ArrayList<>(List.of("train", "--resume", run.toString(), "--threads", "1", "--eval-every", "1",
          "--checkpoint-every", "0"));
    }
  }
}
