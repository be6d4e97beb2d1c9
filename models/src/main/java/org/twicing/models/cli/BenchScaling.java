package org.twicing.models.cli;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.twicing.codegen.cost.FlopCounter;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.models.study.LinePlot;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code twicing bench scaling}: how a language model's training step grows with the sequence length and the
 * batch, softmax against twicing in every layer, with the share of the multiply-adds that grow as T² (the
 * attention products QKᵀ, AV and twicing's second A·(V − AV)), as a table and two PNG plots.
 */
@Command(name = "scaling", mixinStandardHelpOptions = true, versionProvider = TwicingVersion.class,
    description = "Median ms per train_step.onnx step of a language-model preset against the sequence length T "
        + "and the batch, softmax vs twicing in every layer, with the share of multiply-adds that grow as T^2; "
        + "writes a table and two PNG plots.")
final class BenchScaling implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Mixin
  BenchCommand.Common common;

  @Option(names = "--lengths", split = ",", defaultValue = "64,128,256,512", paramLabel = "T",
      description = "Sequence lengths (default 64,128,256,512).")
  List<Integer> lengths;

  @Option(names = "--batches", split = ",", defaultValue = "4,16", paramLabel = "B",
      description = "Batch sizes (default 4,16).")
  List<Integer> batches;

  @Option(names = "--plot", paramLabel = "PREFIX", defaultValue = "bench-scaling", description = "Writes PREFIX-ms.png "
      + "and PREFIX-t2-share.png (default bench-scaling).")
  String plot;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    if (!common.model.startsWith("lm-")) {
      throw new CliException("bench scaling needs a language-model preset (lm-tiny, lm-paper), got '" + common.model
          + "'", null, TwicingCli.EXIT_USAGE);
    }
    for (int t : lengths) {
      if (t < 2 || t > 8192) {
        throw new CliException("--lengths must be between 2 and 8192, got " + t, null, TwicingCli.EXIT_USAGE);
      }
    }
    for (int b : batches) {
      if (b < 1 || b > 4096) {
        throw new CliException("--batches must be between 1 and 4096, got " + b, null, TwicingCli.EXIT_USAGE);
      }
    }
    out.printf("bench scaling: %s train_step, threads %s, median of %d runs%n", common.model,
        common.threads == 0 ? "default" : common.threads, common.iters);
    out.printf("| attention | batch | T | ms / step | GMACs / step | T^2 share of MACs |%n|---|---|---|---|---|---|%n");
    LinePlot ms = new LinePlot(common.model + " training step against sequence length", "T (tokens)",
        "ms per step");
    LinePlot share = new LinePlot("Share of multiply-adds that grow as T^2", "T (tokens)", "share of MACs");
    for (String kind : List.of("softmax", "twicing")) {
      for (int b : batches) {
        double[] x = new double[lengths.size()];
        double[] y = new double[lengths.size()];
        double[] s = new double[lengths.size()];
        for (int i = 0; i < lengths.size(); i++) {
          int t = lengths.get(i);
          Gpt m = model(kind, t);
          common.batch = b;
          TrainingSpec ts = TrainingSpec.defaults();
          StateDict w = StateDict.initialize(m, 0);
          Graph g = TrainingGraphs.trainStep(m, w, ts);
          long macs = FlopCounter.macs(g, common.bindings(m));
          // Per layer and head, forward: QK^T and AV are T^2 d each, twicing adds one more; backward doubles them.
          long perLayer = (long) b * m.cfg().heads() * t * (long) t * (m.cfg().dim() / m.cfg().heads());
          long t2 = 3 * perLayer * m.cfg().depth() * (kind.equals("twicing") ? 3 : 2);
          byte[] bytes = OnnxEmitter.emit(g, EmitOptions.training()).toByteArray();
          List<OnnxTensor> owned = new ArrayList<>();
          double step;
          try (ModelSession session = ModelSession.open(bytes, common.session())) {
            Map<String, OnnxTensor> feeds = BenchCommand.trainFeeds(common, m, w, ts, owned);
            step = BenchCommand.medianMs(common.warmup, common.iters, () -> BenchCommand.runOnce(session, feeds));
          } finally {
            owned.forEach(OnnxTensor::close);
          }
          x[i] = t;
          y[i] = step;
          s[i] = (double) t2 / macs;
          out.printf(Locale.ROOT, "| %s | %d | %d | %.1f | %.3f | %.1f%% |%n", kind, b, t, step, macs / 1e9,
              100 * s[i]);
          out.flush();
        }
        double[] none = new double[x.length];
        Arrays.fill(none, Double.NaN);
        ms.add(new LinePlot.Series(kind + ", batch " + b, x, y, none));
        share.add(new LinePlot.Series(kind + ", batch " + b, x, s, none));
      }
    }
    Path msFile = Path.of(plot + "-ms.png");
    Path shareFile = Path.of(plot + "-t2-share.png");
    ms.write(msFile);
    share.write(shareFile);
    out.println("wrote " + msFile + " and " + shareFile);
    return 0;
  }

  /** The preset with context {@code t} and, for twicing, twicing attention in every layer. */
  private Gpt model(String kind, int t) {
    Gpt preset = (Gpt) Zoo.build(common.model, PresetOptions.defaults().withDropout(0.0));
    int depth = (int) preset.cfg().depth();
    List<AttentionKind> kinds = new ArrayList<>();
    for (int i = 0; i < depth; i++) {
      kinds.add(kind.equals("twicing") ? AttentionKind.TWICING : AttentionKind.SOFTMAX);
    }
    return new Gpt(preset.cfg().toBuilder().context(t).attention(kinds).build());
  }
}
