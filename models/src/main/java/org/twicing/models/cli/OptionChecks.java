package org.twicing.models.cli;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.dsl.nn.AttentionKind;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionStrategy;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * What each option allows, checked once for every command after parsing and before the command runs (so before
 * any data is loaded): a value outside its range is a usage error (exit 2) of one line naming the option, the
 * value and what is allowed. One table keyed by option name, because an option means the same in every command
 * that has it ({@code --threads}, {@code --batch}...); rules that relate two options follow the table.
 */
public final class OptionChecks {
  /** The most intra-op threads accepted: far above any machine's cores, far below what makes thread creation hang. */
  public static final int MAX_THREADS = 256;
  /** The largest vocabulary accepted: a vocab x width embedding must stay addressable for the zoo's widths. */
  public static final long MAX_VOCAB = 1L << 22;

  /** A rule: the option's name and a check returning what is allowed when a value breaks it (null when fine). */
  record Rule(String option, Function<Object, String> problem) { }

  private static final List<Rule> RULES = List.of(
      integer("--threads", 0, MAX_THREADS, "0 (one per available processor) or 1 to " + MAX_THREADS),
      integer("--batch", 1, Integer.MAX_VALUE, "a positive integer"),
      integer("--eval-batch", 1, Integer.MAX_VALUE, "a positive integer"),
      integer("--steps", 1, Long.MAX_VALUE, "a positive integer"),
      integer("--stop-at", 1, Long.MAX_VALUE, "a positive step number"),
      integer("--warmup", 0, Long.MAX_VALUE, "0 or a positive integer"),
      integer("--eval-every", 0, Long.MAX_VALUE, "0 (only at the end) or a positive integer"),
      integer("--checkpoint-every", 0, Long.MAX_VALUE, "0 (only at the end) or a positive integer"),
      integer("--iters", 1, Integer.MAX_VALUE, "a positive integer"),
      integer("--gemm-size", 1, 1 << 15, "1 to " + (1 << 15)),
      integer("--calibration", 0, 60_000, "0 (dynamic quantization) or 1 to 60000 images"),
      integer("--rounds", 1, 1000, "1 to 1000"),
      integer("--examples", 1, Integer.MAX_VALUE, "a positive integer"),
      integer("--pgd-steps", 1, Integer.MAX_VALUE, "a positive integer"),
      integer("--tokens", 0, 1 << 20, "0 to " + (1 << 20)),
      integer("--top-k", 0, Integer.MAX_VALUE, "0 (all) or a positive integer"),
      integer("--vocab", 1, MAX_VOCAB, "1 to " + MAX_VOCAB),
      integer("--opset", EmitOptions.MIN_OPSET, EmitOptions.MAX_OPSET,
          EmitOptions.MIN_OPSET + " to " + EmitOptions.MAX_OPSET),
      integer("--external-data-threshold", 0, Long.MAX_VALUE, "0 or a positive number of bytes"),
      real("--epochs", 0, false, Double.MAX_VALUE, true, "a positive number"),
      real("--lr", 0, false, Double.MAX_VALUE, true, "a positive finite number"),
      real("--min-lr", 0, true, Double.MAX_VALUE, true, "a finite number >= 0"),
      real("--weight-decay", 0, true, Double.MAX_VALUE, true, "a finite number >= 0"),
      real("--clip-norm", 0, true, Double.MAX_VALUE, true, "0 (off) or a positive finite number"),
      real("--momentum", 0, true, 1, false, "0 <= M < 1"),
      real("--beta1", 0, true, 1, false, "0 <= B1 < 1"),
      real("--beta2", 0, true, 1, false, "0 <= B2 < 1"),
      real("--eps", 0, false, Double.MAX_VALUE, true, "a positive finite number"),
      real("--label-smoothing", 0, true, 1, false, "0 <= S < 1"),
      real("--dropout", 0, true, 1, false, "0 <= P < 1"),
      real("--temperature", 0, true, Double.MAX_VALUE, true, "0 (greedy) or a positive finite number"),
      real("--noise", 0, true, Double.MAX_VALUE, true, "finite numbers >= 0"),
      real("--epsilon", 0, true, Double.MAX_VALUE, true, "finite numbers >= 0"),
      real("--pgd-alpha", 0, true, Double.MAX_VALUE, true, "0 (epsilon/4) or a positive finite number"),
      oneOf("--optimizer", "adamw", "sgd"),
      oneOf("--schedule", "constant", "cosine"),
      oneOf("--invert", "auto", "on", "off"),
      new Rule("--attention", OptionChecks::attentionProblem),
      new Rule("--range", OptionChecks::rangeProblem));

  private OptionChecks() { }

  /** An execution strategy that checks every option of the parsed command line, then runs {@code next}. */
  public static IExecutionStrategy before(IExecutionStrategy next) {
    return parseResult -> {
      check(parseResult);
      return next.execute(parseResult);
    };
  }

  /**
   * Checks the options of {@code parseResult} and of its subcommands.
   *
   * @throws ParameterException naming the first option whose value is not allowed
   */
  public static void check(ParseResult parseResult) {
    for (ParseResult pr = parseResult; pr != null; pr = pr.subcommand()) {
      CommandLine cl = pr.commandSpec().commandLine();
      for (OptionSpec o : pr.matchedOptions()) {
        Object value = o.getValue();
        for (Rule r : RULES) {
          if (o.names().length > 0 && List.of(o.names()).contains(r.option())) {
            String expected = r.problem().apply(value);
            if (expected != null) {
              throw new ParameterException(cl, r.option() + " " + show(pr, o, value) + ": expected " + expected);
            }
          }
        }
      }
      checkLearningRates(pr, cl);
    }
  }

  /** {@code --min-lr} is the end of a decay from {@code --lr}: above it, the schedule would be clamped silently. */
  private static void checkLearningRates(ParseResult pr, CommandLine cl) {
    if (!pr.hasMatchedOption("--min-lr") || pr.hasMatchedOption("--resume")) {
      return; // when resuming, changing either is refused with the run's values
    }
    double min = ((Number) pr.matchedOptionValue("--min-lr", 0.0)).doubleValue();
    double peak = pr.hasMatchedOption("--lr") ? ((Number) pr.matchedOptionValue("--lr", 0.0)).doubleValue()
        : TrainingDefaults.LR;
    if (min > peak) {
      throw new ParameterException(cl, "--min-lr " + pr.matchedOption("--min-lr").stringValues().get(0)
          + ": expected at most the peak learning rate --lr " + (pr.hasMatchedOption("--lr")
              ? pr.matchedOption("--lr").stringValues().get(0) : peak + " (the default)"));
    }
  }

  /** The value as the user typed it (all of it, for repeated or split options). */
  private static String show(ParseResult pr, OptionSpec o, Object value) {
    List<String> typed = pr.matchedOption(o.longestName()).originalStringValues();
    return typed.isEmpty() ? String.valueOf(value) : String.join(" ", typed);
  }

  private static Rule integer(String option, long min, long max, String expected) {
    return new Rule(option, v -> all(v, x -> x instanceof Number n && !(x instanceof Double || x instanceof Float)
        && n.longValue() >= min && n.longValue() <= max) ? null : expected);
  }

  private static Rule real(String option, double min, boolean minIncluded, double max, boolean maxIncluded,
      String expected) {
    return new Rule(option, v -> all(v, x -> {
      if (!(x instanceof Number n)) {
        return false;
      }
      double d = n.doubleValue();
      return Double.isFinite(d) && (minIncluded ? d >= min : d > min) && (maxIncluded ? d <= max : d < max);
    }) ? null : expected);
  }

  private static Rule oneOf(String option, String... allowed) {
    return new Rule(option, v -> all(v, x -> List.of(allowed).contains(String.valueOf(x))) ? null
        : String.join(" or ", allowed));
  }

  /** Whether every element of {@code v} (a value, an array, a collection or a map's values) passes. */
  private static boolean all(Object v, Predicate<Object> ok) {
    List<Object> items = new ArrayList<>();
    if (v instanceof double[] ds) {
      for (double d : ds) {
        items.add(d);
      }
    } else if (v instanceof int[] is) {
      for (int i : is) {
        items.add(i);
      }
    } else if (v instanceof long[] ls) {
      for (long l : ls) {
        items.add(l);
      }
    } else if (v instanceof Collection<?> c) {
      items.addAll(c);
    } else if (v instanceof Map<?, ?> m) {
      items.addAll(m.values());
    } else {
      items.add(v);
    }
    return items.stream().allMatch(x -> x != null && ok.test(x));
  }

  private static String attentionProblem(Object v) {
    try {
      AttentionKind.parse(Objects.toString(v));
      return null;
    } catch (IllegalArgumentException e) {
      return "softmax, twicing, twicing-learned or twicingK with K from 1 to " + AttentionKind.MAX_ORDER;
    }
  }

  /** {@code DIM=MIN,OPT,MAX} profile ranges of {@code inspect --tensorrt}: integers with 0 <= MIN <= OPT <= MAX. */
  private static String rangeProblem(Object v) {
    String expected = "DIM=MIN,OPT,MAX with integers 0 <= MIN <= OPT <= MAX";
    return all(v, x -> {
      String[] p = String.valueOf(x).split(",");
      if (p.length != 3) {
        return false;
      }
      try {
        long lo = Long.parseLong(p[0].trim());
        long opt = Long.parseLong(p[1].trim());
        long hi = Long.parseLong(p[2].trim());
        return 0 <= lo && lo <= opt && opt <= hi;
      } catch (NumberFormatException e) {
        return false;
      }
    }) ? null : expected;
  }

  /** Training defaults the cross-option rules compare against. */
  static final class TrainingDefaults {
    /** The default peak learning rate of {@code twicing train} (its {@code --lr} help states it). */
    static final double LR = 1e-3;

    private TrainingDefaults() { }
  }
}
