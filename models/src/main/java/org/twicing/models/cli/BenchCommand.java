package org.twicing.models.cli;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.twicing.codegen.cost.FlopCounter;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.models.bench.Alternation;
import org.twicing.models.bench.ProfileSummary;
import org.twicing.models.bench.TorchPeer;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code twicing bench infer|train}: timings of inference and training steps, twicing against softmax. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    description = "Benchmark inference or training steps in ONNX Runtime, twicing against softmax attention.",
    subcommands = {BenchCommand.Infer.class, BenchCommand.Train.class, BenchScaling.class})
public final class BenchCommand {

  /** The key of our own median in {@link Common#time}'s result. */
  static final String OURS = "ours";

  /** Options shared by both benchmarks. */
  static final class Common {
    @Option(names = "--model", defaultValue = "vit-fmnist", paramLabel = "PRESET", description = "Model preset.")
    String model;

    @Option(names = "--batch", defaultValue = "64", paramLabel = "B", description = "Batch size.")
    int batch;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
        description = "Intra-op threads (0: ONNX Runtime's default, one per core).")
    int threads;

    @Option(names = "--iters", defaultValue = "20", paramLabel = "N", description = "Timed runs (median).")
    int iters;

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "N", description = "Untimed warm-up runs.")
    int warmup;

    @Option(names = "--provider", defaultValue = "cpu", paramLabel = "P", description = "cpu, cuda or tensorrt.")
    String provider;

    @Option(names = "--fallback", description = "Fall back to CPU (with a warning) if the provider is unavailable.")
    boolean fallback;

    @Option(names = "--vocab", paramLabel = "N", description = "Vocabulary size (lm-paper).")
    Long vocab;

    @Option(names = "--torch", description = "Also time PyTorch on the same model, batch and threads, eager and "
        + "torch.compile, in rounds alternating with ours.")
    boolean torch;

    @Option(names = "--python", paramLabel = "PATH", description = "Python for --torch (default: "
        + "$TWICING_PYTHON, else the checkout's V/bin/python, else /usr/bin/python3).")
    Path python;

    @Option(names = "--rounds", defaultValue = "5", paramLabel = "N",
        description = "With --torch: alternating rounds, each timing iters/rounds runs of every contender after one untimed run.")
    int rounds;

    @Option(names = "--profile", paramLabel = "DIR", description = "Also run the warm-up and timed runs once more "
        + "under ONNX Runtime's profiler, keep its trace in DIR and print kernel time per model part, per op type and "
        + "per node (layers merged) over the timed runs (a fresh session's first runs are cold).")
    Path profileDir;

    /** The header columns that --torch adds. */
    String torchHeader() {
      return torch ? String.format(" %12s %14s %9s", "torch eager", "torch compile", "speedup") : "";
    }

    /** The --torch columns of one row: the peer's medians and the best of them divided by ours. */
    String torchColumns(Map<String, Double> medians) {
      if (!torch) {
        return "";
      }
      double ours = medians.get(OURS);
      Double eager = medians.get("torch eager");
      Double compiled = medians.get("torch compile");
      double best = Math.min(eager, compiled == null ? Double.MAX_VALUE : compiled);
      return String.format(" %12.2f %14s %8.2fx", eager, compiled == null ? "-" : String.format("%.2f", compiled),
          best / ours);
    }

    /**
     * Median ms of {@code ours}; with --torch also PyTorch's eager and compiled medians for the same model,
     * timed in alternating rounds, under the keys {@code "torch eager"} and {@code "torch compile"}.
     */
    Map<String, Double> time(TaskModel m, String task, Runnable ours, PrintWriter out) throws Exception {
      Map<String, Double> medians = new LinkedHashMap<>();
      if (!torch) {
        medians.put(OURS, medianMs(warmup, iters, ours));
        return medians;
      }
      for (int i = 0; i < warmup; i++) {
        ours.run();
      }
      Path home = Path.of(System.getProperty("twicing.home", "."));
      TorchPeer.Interpreter py = TorchPeer.findPython(python, System.getenv(), home);
      int peerThreads = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
      try (TorchPeer peer = TorchPeer.start(py, home.resolve("tests/src/test/python/bench_torch.py"),
          m.configJson(), batch, peerThreads, task)) {
        out.printf("  peer: torch %s with %s, %d threads, variants %s%s%n", peer.version(), py, peerThreads,
            peer.variants(), peer.notes().isEmpty() ? "" : "; " + String.join("; ", peer.notes()));
        Map<String, Alternation.Contender> c = new LinkedHashMap<>();
        c.put(OURS, n -> timeRuns(n, ours));
        for (String v : peer.variants()) {
          c.put("torch " + v, n -> peer.run(v, n));
        }
        Alternation.run(c, rounds, Math.max(1, iters / rounds))
            .forEach((k, t) -> medians.put(k, Alternation.median(t)));
      }
      return medians;
    }

    SessionOptionsSpec session() {
      return SessionOptionsSpec.builder().provider(provider).fallback(fallback).intraOpThreads(threads).build();
    }

    TaskModel build(String attention) {
      var o = PresetOptions.defaults().withAttention(attention).withDropout(0.0);
      if (vocab != null) {
        o = o.withVocab(vocab);
      }
      try {
        return Zoo.build(model, o);
      } catch (IllegalArgumentException e) {
        throw new CliException(e.getMessage(), e, TwicingCli.EXIT_USAGE);
      }
    }

    Map<String, Long> bindings(TaskModel m) {
      Map<String, Long> b = new LinkedHashMap<>();
      b.put("batch", (long) batch);
      b.put("T", m.inputType().shape().rank() == 2 ? contextOf(m) : 1L);
      return b;
    }

    long contextOf(TaskModel m) {
      return Long.parseLong(m.config().getOrDefault("context", "1"));
    }

    /** A random input of the model's type with symbolic dims bound. */
    Tensor input(TaskModel m, Random rng) {
      List<Dim> dims = m.inputType().shape().dims();
      long[] shape = new long[dims.size()];
      Map<String, Long> b = bindings(m);
      for (int i = 0; i < shape.length; i++) {
        shape[i] = dims.get(i).evaluate(b);
      }
      if (m.inputType().dtype() == DType.INT64) {
        double[] d = new double[(int) Tensor.numel(shape)];
        for (int i = 0; i < d.length; i++) {
          d[i] = rng.nextInt((int) m.classes());
        }
        return new Tensor(DType.INT64, shape, d);
      }
      return Tensor.randn(DType.FLOAT32, rng, 1.0, shape);
    }

    Tensor labels(TaskModel m, Random rng) {
      List<Dim> dims = m.labelsType().shape().dims();
      long[] shape = new long[dims.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = dims.get(i).evaluate(bindings(m));
      }
      double[] d = new double[(int) Tensor.numel(shape)];
      for (int i = 0; i < d.length; i++) {
        d[i] = rng.nextInt((int) m.classes());
      }
      return new Tensor(DType.INT64, shape, d);
    }
  }

  /** The inputs of one train_step run: random data, the initial weights, zero optimizer state; all in {@code owned}. */
  static Map<String, OnnxTensor> trainFeeds(Common common, TaskModel m, StateDict w, TrainingSpec ts,
      List<OnnxTensor> owned) {
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    Random rng = new Random(1);
    feeds.put(m.inputName(), track(owned, Tensors.fromHost(common.input(m, rng))));
    feeds.put(TrainingGraphs.LABELS, track(owned, Tensors.fromHost(common.labels(m, rng))));
    feeds.put(TrainingGraphs.LR, track(owned, Tensors.floatScalar(1e-3f)));
    feeds.put(TrainingGraphs.STEP, track(owned, Tensors.longScalar(1)));
    for (Param p : m.parameters()) {
      feeds.put(p.name(), track(owned, Tensors.fromHost(w.get(p.name()))));
      for (String st : ts.optimizer().stateNames()) {
        feeds.put(p.name() + "." + st, track(owned, Tensors.fromHost(Tensor.zeros(DType.FLOAT32, p.shape()))));
      }
    }
    return feeds;
  }

  private static OnnxTensor track(List<OnnxTensor> owned, OnnxTensor t) {
    owned.add(t);
    return t;
  }

  /** Median of the timed runs in milliseconds. */
  static double medianMs(int warmup, int iters, Runnable r) {
    for (int i = 0; i < warmup; i++) {
      r.run();
    }
    return Alternation.median(timeRuns(iters, r));
  }

  /** Runs {@code r} {@code n} times and returns each run's milliseconds. */
  static double[] timeRuns(int n, Runnable r) {
    double[] t = new double[n];
    for (int i = 0; i < n; i++) {
      long t0 = System.nanoTime();
      r.run();
      t[i] = (System.nanoTime() - t0) / 1e6;
    }
    return t;
  }

  /** Runs {@code session} on {@code feeds} once, closing the results. */
  static void runOnce(ModelSession session, Map<String, OnnxTensor> feeds) {
    try (Results r = session.run(feeds)) {
      r.size();
    }
  }

  /** Peak resident set size of this process in MiB, from /proc (-1 where unavailable). */
  static double peakRssMiB() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }

  /** ONNX Runtime's float32 GEMM rate on this machine: one n×n·n×n MatMul, in GFLOP/s. */
  static double gemmRate(SessionOptionsSpec session, int n, int warmup, int iters) {
    GraphBuilder g = new GraphBuilder("gemm");
    Value a = g.input("a", TensorType.of(DType.FLOAT32, n, n));
    Value b = g.input("b", TensorType.of(DType.FLOAT32, n, n));
    g.output("c", Ops.matmul(a, b));
    Random rng = new Random(0);
    try (ModelSession s = ModelSession.open(OnnxEmitter.emit(g.build(), EmitOptions.defaults()).toByteArray(),
        session);
        OnnxTensor ta = Tensors.fromHost(Tensor.randn(DType.FLOAT32, rng, 1, n, n));
        OnnxTensor tb = Tensors.fromHost(Tensor.randn(DType.FLOAT32, rng, 1, n, n))) {
      Map<String, OnnxTensor> feeds = Map.of("a", ta, "b", tb);
      double ms = medianMs(warmup, iters, () -> runOnce(s, feeds));
      return 2.0 * n * n * n / (ms / 1e3) / 1e9;
    }
  }

  /**
   * Runs {@code model} {@code warmup + iters} times in a profiling session and prints the summary of its trace
   * over the last {@code iters} runs.
   */
  static void profile(Common common, PrintWriter out, String what, byte[] model, Map<String, OnnxTensor> feeds)
      throws IOException {
    Files.createDirectories(common.profileDir);
    SessionOptionsSpec spec = common.session().toBuilder()
        .profiling(common.profileDir.resolve(common.model + "-" + what)).build();
    Path trace;
    try (ModelSession s = ModelSession.open(model, spec)) {
      for (int i = 0; i < common.warmup + common.iters; i++) {
        runOnce(s, feeds);
      }
      trace = s.endProfiling();
    }
    ProfileSummary p = ProfileSummary.read(trace, common.warmup);
    out.println();
    out.println("profile of " + what + " (" + trace + ", after " + common.warmup + " warm-up runs):");
    out.println(p.markdown(15));
    out.flush();
  }

  /** {@code bench infer}: inference latency per batch. */
  @Command(name = "infer", mixinStandardHelpOptions = true, versionProvider = TwicingVersion.class,
      description = "Median ms per inference batch, multiply-adds and GFLOP/s, twicing vs softmax.")
  static final class Infer implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Common common;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      out.printf("bench infer: %s, batch %d, provider %s, threads %s%n", common.model, common.batch,
          common.provider, common.threads == 0 ? "default" : common.threads);
      out.printf("%-9s %12s %14s %10s%s%n", "attention", "ms/batch", "GMACs/batch", "GFLOP/s",
          common.torchHeader());
      for (String kind : List.of("twicing", "softmax")) {
        TaskModel m = common.build(kind);
        Graph g = InferenceGraph.build(m, StateDict.initialize(m, 0));
        long macs = FlopCounter.macs(g, common.bindings(m));
        byte[] bytes = OnnxEmitter.emit(g, EmitOptions.defaults()).toByteArray();
        try (ModelSession s = ModelSession.open(bytes, common.session());
            OnnxTensor x = Tensors.fromHost(common.input(m, new Random(1)))) {
          Map<String, OnnxTensor> feeds = Map.of(m.inputName(), x);
          Map<String, Double> medians = common.time(m, "infer", () -> runOnce(s, feeds), out);
          double ms = medians.get(OURS);
          out.printf("%-9s %12.2f %14.3f %10.1f%s%n", kind, ms, macs / 1e9, 2.0 * macs / (ms / 1e3) / 1e9,
              common.torchColumns(medians));
          out.flush();
          if (common.profileDir != null) {
            profile(common, out, kind + "-model", bytes, feeds);
          }
        }
      }
      return 0;
    }
  }

  /** {@code bench train}: training-step time, utilisation against ORT's GEMM rate, optional PyTorch baseline. */
  @Command(name = "train", mixinStandardHelpOptions = true, versionProvider = TwicingVersion.class,
      description = "Median ms per train_step.onnx step, multiply-adds, GFLOP/s, model FLOPs utilisation "
          + "against ONNX Runtime's own fp32 GEMM rate, peak memory, twicing vs softmax.")
  static final class Train implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Common common;

    @Option(names = "--gemm-size", defaultValue = "1024", paramLabel = "N", description = "Size of the GEMM probe.")
    int gemmSize;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      double gemm = gemmRate(common.session(), gemmSize, common.warmup, Math.max(5, common.iters / 2));
      out.printf("bench train: %s, batch %d, provider %s, threads %s%n", common.model, common.batch,
          common.provider, common.threads == 0 ? "default" : common.threads);
      out.printf("ONNX Runtime fp32 GEMM (%d^3): %.1f GFLOP/s%n", gemmSize, gemm);
      out.printf("%-9s %10s %13s %9s %6s %10s%s%n", "attention", "ms/step", "GMACs/step", "GFLOP/s", "MFU",
          "peak MiB", common.torchHeader());
      for (String kind : List.of("twicing", "softmax")) {
        TaskModel m = common.build(kind);
        StateDict w = StateDict.initialize(m, 0);
        TrainingSpec ts = TrainingSpec.defaults();
        Graph g = TrainingGraphs.trainStep(m, w, ts);
        long macs = FlopCounter.macs(g, common.bindings(m));
        byte[] bytes = OnnxEmitter.emit(g, EmitOptions.builder().parametersAsInputs(true).build()).toByteArray();
        List<OnnxTensor> owned = new ArrayList<>();
        try (ModelSession s = ModelSession.open(bytes, common.session())) {
          Map<String, OnnxTensor> feeds = trainFeeds(common, m, w, ts, owned);
          Map<String, Double> medians = common.time(m, "train", () -> runOnce(s, feeds), out);
          double ms = medians.get(OURS);
          double rate = 2.0 * macs / (ms / 1e3) / 1e9;
          out.printf("%-9s %10.2f %13.3f %9.1f %6.2f %10.0f%s%n", kind, ms, macs / 1e9, rate, rate / gemm,
              peakRssMiB(), common.torchColumns(medians));
          out.flush();
          if (common.profileDir != null) {
            profile(common, out, kind + "-train_step", bytes, feeds);
          }
        } finally {
          for (OnnxTensor t : owned) {
            t.close();
          }
        }
      }
      return 0;
    }
  }
}
