package org.twicing.models.training;

import ai.onnxruntime.OnnxTensor;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.graphs.DecodeGraph;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;

/**
 * Byte-level generation through the decoding graph: the prompt is prefilled once, then each new byte costs one
 * single-token step against the key/value (and, in twicing layers, {@code 2v − AV}) caches. Within the context it
 * gives exactly what {@link TextGenerator} gives by recomputing the whole window; when the cache is full it
 * restarts from the last half-context of text, so later windows hold between context/2 and context bytes.
 */
public final class CachedTextGenerator implements AutoCloseable {
  private final Gpt model;
  private final ModelSession session;

  /** A generator for {@code model} with {@code weights}, running on {@code options}' provider. */
  public CachedTextGenerator(Gpt model, StateDict weights, SessionOptionsSpec options) {
    if (!model.supportsCachedDecoding()) {
      throw new IllegalArgumentException(model.name() + " has attention kinds without an exact cache; "
          + "use the uncached generator");
    }
    this.model = model;
    byte[] bytes = OnnxEmitter.emit(DecodeGraph.build(model, weights), EmitOptions.defaults()).toByteArray();
    this.session = ModelSession.open(bytes, options);
  }

  /** {@code count} new bytes after {@code prompt}, sampled as {@link TextGenerator#generate} samples them. */
  public byte[] generate(byte[] prompt, int count, double temperature, int topK, long seed) {
    TextGenerator.validate(prompt, count, temperature, topK);
    int context = (int) model.cfg().context();
    Random rng = new Random(seed);
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    all.writeBytes(prompt);
    ByteArrayOutputStream generated = new ByteArrayOutputStream();
    Results cache = null;
    int cached = 0;
    try {
      float[] last = null;
      for (int n = 0; n < count; n++) {
        byte[] text = all.toByteArray();
        long[] feed;
        if (cache == null || cached + 1 > context) {
          // (Re)fill: the last min(context, len) bytes on the first call, the last half-context after a full cache.
          int t = Math.min(cache == null ? context : context / 2, text.length);
          feed = new long[t];
          for (int i = 0; i < t; i++) {
            feed[i] = text[text.length - t + i] & 0xff;
          }
          if (cache != null) {
            cache.close();
            cache = null;
          }
          cached = 0;
        } else {
          feed = new long[] {text[text.length - 1] & 0xff};
        }
        Results next = step(feed, cache);
        if (cache != null) {
          cache.close();
        }
        cache = next;
        cached += feed.length;
        float[] logits = cache.floats(DecodeGraph.LOGITS);
        int v = (int) model.cfg().vocab();
        last = Arrays.copyOfRange(logits, (feed.length - 1) * v, feed.length * v);
        int b = TextGenerator.sample(last, temperature, topK, rng);
        all.write(b);
        generated.write(b);
      }
    } finally {
      if (cache != null) {
        cache.close();
      }
    }
    return generated.toByteArray();
  }

  private Results step(long[] tokens, Results past) {
    Gpt.Config cfg = model.cfg();
    long dh = cfg.dim() / cfg.heads();
    Map<String, OnnxTensor> feeds = new HashMap<>();
    Map<String, OnnxTensor> owned = new HashMap<>();
    try {
      owned.put(DecodeGraph.TOKENS, Tensors.longs(tokens, 1, tokens.length));
      for (int i = 0; i < cfg.depth(); i++) {
        for (String part : model.cachesTwice(i) ? new String[] {"key", "value", "twice"}
            : new String[] {"key", "value"}) {
          String in = DecodeGraph.past(i, part);
          if (past == null) {
            owned.put(in, Tensors.floats(new float[0], 1, cfg.heads(), 0, dh));
          } else {
            feeds.put(in, past.tensor(DecodeGraph.present(i, part)));
          }
        }
      }
      feeds.putAll(owned);
      return session.run(feeds);
    } finally {
      owned.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public void close() {
    session.close();
  }
}
