package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.twicing.codegen.graphs.DecodeGraph;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.tests.parity.ParityFixtures;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.Tolerance;

/**
 * {@code decode.onnx} (incremental decoding with a key/value cache, and for twicing layers a cache of
 * {@code 2v_j − (A V)_j}) against the full-sequence inference graph, through ONNX Runtime: token by token from an
 * empty cache, after a 7-token prefill, and in multi-token chunks after a non-empty cache (3, 4, 2, 3), the logits
 * at every position match within 1e-5 relative error, for models with twicing layers and for an all-softmax model
 * (no twicing cache at all). A control feeds the plain value cache where the twicing cache belongs and must NOT
 * match, showing that the cached {@code 2v − AV} is what makes twicing decoding exact. The graph passes the ONNX
 * checker with full shape inference.
 */
class CachedDecodingTest {
  static final int B = 2;
  static final int T = 12;
  static final int PREFILL = 7;
  static final double TOL = 1e-5;
  /** Chunk lengths of the multi-token schedule (sum T): every chunk after the first meets a non-empty cache. */
  static final List<Integer> CHUNKS = List.of(3, 4, 2, 3);

  static Stream<Arguments> cases() {
    PresetOptions paper = PresetOptions.defaults().withVocab(64).withDropout(0.0);
    return Stream.of(
        Arguments.of("lm-tiny", "default (twicing last:2)", PresetOptions.defaults()),
        Arguments.of("lm-tiny", "twicing all", PresetOptions.defaults().withTwicingLayers("all")),
        Arguments.of("lm-paper", "default (twicing 14,15), vocab 64", paper),
        Arguments.of("lm-tiny", "all softmax", PresetOptions.defaults().withAttention("softmax")));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void cachedDecodingMatchesTheFullSequence(String preset, String variant, PresetOptions options) {
    Gpt model = (Gpt) Zoo.build(preset, options);
    StateDict w = ParityFixtures.weights(model, 91);
    Tensor tokens = ParityFixtures.randomInts(new Random(92), model.classes(), B, T);
    Tensor full = ParityFixtures.ort(ParityFixtures.emit(InferenceGraph.build(model, w), false),
        Map.of("tokens", tokens)).get("logits");
    assertArrayEquals(new long[] {B, T, model.classes()}, full.shape());

    byte[] decode = ParityFixtures.emit(DecodeGraph.build(model, w), false);
    OnnxChecker.check(decode);

    boolean anyTwicing = false;
    for (int i = 0; i < model.cfg().depth(); i++) {
      anyTwicing |= model.cachesTwice(i);
    }
    try (ModelSession s = ModelSession.open(decode)) {
      double stepErr = decodeError(s, model, tokens, full, List.of(1), false, true);
      double prefillErr = decodeError(s, model, tokens, full, List.of(PREFILL), false, true);
      // Multi-token chunks after a non-empty cache: the new queries attend cached and new keys causally.
      double chunkErr = decodeError(s, model, tokens, full, CHUNKS, false, true);
      double control = anyTwicing ? decodeError(s, model, tokens, full, List.of(1), true, false) : Double.NaN;
      System.out.printf(Locale.ROOT, "[decode] %-40s step-by-step max rel err %.2e, prefill %d + steps %.2e,"
          + " chunks %s %.2e, control (past.twice := past.value) %.2e%n", preset + " " + variant, stepErr, PREFILL,
          prefillErr, CHUNKS, chunkErr, control);
      if (anyTwicing) {
        assertTrue(control > 1e-3, preset + " " + variant + ": caching v instead of 2v − AV should not match the "
            + "full sequence, but the error is only " + control);
      }
    }
  }

  @org.junit.jupiter.api.Test
  void higherOrderTwicingHasNoCachedDecoding() {
    Gpt model = (Gpt) Zoo.build("lm-tiny", PresetOptions.defaults().withAttention("twicing3")
        .withTwicingLayers("all"));
    assertTrue(!model.supportsCachedDecoding());
    UnsupportedOperationException e = assertThrows(
        UnsupportedOperationException.class, () -> DecodeGraph.build(model, StateDict.initialize(model, 0)));
    assertTrue(e.getMessage().contains("twicing3"), e.getMessage());
  }

  /**
   * Feeds {@code tokens} through {@code decode.onnx} in chunks (of the lengths in {@code first}, then single
   * tokens), chaining {@code present.*} into {@code past.*} from an empty cache, and returns the worst
   * per-position relative error of the logits against {@code full}; asserts it per position when {@code check}.
   * With {@code plainV} the twicing caches are replaced by the value caches (the wrong, inexact cache).
   */
  private static double decodeError(ModelSession s, Gpt model, Tensor tokens, Tensor full, List<Integer> first,
      boolean plainV, boolean check) {
    Gpt.Config cfg = model.cfg();
    long dh = cfg.dim() / cfg.heads();
    Map<String, Tensor> cache = new HashMap<>();
    Tensor empty = Tensor.zeros(DType.FLOAT32, B, cfg.heads(), 0, dh);
    for (int i = 0; i < cfg.depth(); i++) {
      cache.put(DecodeGraph.past(i, "key"), empty);
      cache.put(DecodeGraph.past(i, "value"), empty);
      if (model.cachesTwice(i)) {
        cache.put(DecodeGraph.past(i, "twice"), empty);
      }
    }
    int v = (int) model.classes();
    double worst = 0;
    int pos = 0;
    int chunk = 0;
    while (pos < T) {
      int len = chunk < first.size() ? first.get(chunk) : 1;
      chunk++;
      Map<String, Tensor> feeds = new HashMap<>(cache);
      feeds.put(DecodeGraph.TOKENS, slice(tokens, pos, len, 1));
      Map<String, Tensor> out = s.runHost(feeds);
      Tensor logits = out.get(DecodeGraph.LOGITS);
      assertArrayEquals(new long[] {B, len, v}, logits.shape());
      for (int a = 0; a < len; a++) {
        double err = Tolerance.relErr(slice(logits, a, 1, v), slice(full, pos + a, 1, v));
        worst = Math.max(worst, Double.isNaN(err) ? Double.POSITIVE_INFINITY : err);
        if (check) {
          assertTrue(err <= TOL, String.format(Locale.ROOT, "%s: position %d (chunk start %d) logits differ from "
              + "the full sequence by relative error %.3e", model.name(), pos + a, pos, err));
        }
      }
      for (int i = 0; i < cfg.depth(); i++) {
        for (String part : List.of("key", "value", "twice")) {
          Tensor t = out.get(DecodeGraph.present(i, part));
          if (t != null) {
            assertArrayEquals(new long[] {B, cfg.heads(), pos + len, dh}, t.shape(), "present." + i + "." + part);
            cache.put(DecodeGraph.past(i, part), t);
          }
        }
        if (plainV && model.cachesTwice(i)) {
          cache.put(DecodeGraph.past(i, "twice"), cache.get(DecodeGraph.past(i, "value")));
        }
      }
      for (int i = 0; i < cfg.depth(); i++) {
        assertEquals(model.cachesTwice(i), out.containsKey(DecodeGraph.present(i, "twice")),
            "layer " + i + " has a twicing cache exactly when it is a twicing layer");
      }
      pos += len;
    }
    return worst;
  }

  /** Positions [from, from + len) along axis 1 of a [B, N, inner] tensor (rank 2 when inner is 1). */
  private static Tensor slice(Tensor t, int from, int len, int inner) {
    long n = t.dim(1);
    double[] d = new double[B * len * inner];
    for (int b = 0; b < B; b++) {
      t.copyTo((int) ((b * n + from) * inner), d, b * len * inner, len * inner);
    }
    long[] shape = t.rank() == 2 ? new long[] {B, len} : new long[] {B, len, inner};
    return new Tensor(t.dtype(), shape, d);
  }
}
