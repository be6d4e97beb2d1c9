package org.twicing.models.training;

import ai.onnxruntime.OnnxTensor;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;
import org.twicing.runtime.Tensors;
import org.twicing.runtime.train.InferenceRunner;

/**
 * Samples bytes from a byte-level language model: each new byte is drawn from the softmax of the last position's
 * logits divided by the temperature (0: greedy), restricted to the {@code topK} most likely bytes (0: all), given
 * the last {@code context} bytes.
 */
public final class TextGenerator {
  private TextGenerator() { }

  /** {@code count} new bytes after {@code prompt} (which must not be empty). */
  public static byte[] generate(InferenceRunner model, int context, byte[] prompt, int count, double temperature,
      int topK, long seed) {
    return generate(model, context, false, prompt, count, temperature, topK, seed);
  }

  /**
   * As {@link #generate(InferenceRunner, int, byte[], int, double, int, long)}; with {@code fixedLength} every
   * window is right-padded with zeros to {@code context} bytes (for models exported with a fixed sequence length),
   * and the next byte is read at the last real position, which later padding cannot change in a causal model.
   */
  public static byte[] generate(InferenceRunner model, int context, boolean fixedLength, byte[] prompt, int count,
      double temperature, int topK, long seed) {
    validate(prompt, count, temperature, topK);
    Random rng = new Random(seed);
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    all.writeBytes(prompt);
    ByteArrayOutputStream generated = new ByteArrayOutputStream();
    for (int n = 0; n < count; n++) {
      byte[] text = all.toByteArray();
      int t = Math.min(context, text.length);
      int width = fixedLength ? context : t;
      long[] tokens = new long[width];
      for (int i = 0; i < t; i++) {
        tokens[i] = text[text.length - t + i] & 0xff;
      }
      float[] logits;
      try (OnnxTensor in = Tensors.longs(tokens, 1, width)) {
        logits = model.logits(in);
      }
      int v = logits.length / width;
      int next = sample(Arrays.copyOfRange(logits, (t - 1) * v, t * v), temperature, topK, rng);
      all.write(next);
      generated.write(next);
    }
    return generated.toByteArray();
  }

  /** Checks generation arguments, naming the option at fault. */
  static void validate(byte[] prompt, int count, double temperature, int topK) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("the prompt is empty; give at least one character with --prompt");
    }
    if (count < 0) {
      throw new IllegalArgumentException("--tokens must be >= 0, got " + count);
    }
    if (temperature < 0 || !Double.isFinite(temperature)) {
      throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("--top-k must be >= 0 (0: all), got " + topK);
    }
  }

  static int sample(float[] logits, double temperature, int topK, Random rng) {
    int v = logits.length;
    Integer[] order = new Integer[v];
    for (int i = 0; i < v; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
    if (temperature == 0) {
      return order[0];
    }
    int k = topK == 0 ? v : Math.min(topK, v);
    double max = logits[order[0]];
    double[] p = new double[k];
    double sum = 0;
    for (int i = 0; i < k; i++) {
      p[i] = Math.exp((logits[order[i]] - max) / temperature);
      sum += p[i];
    }
    double u = rng.nextDouble() * sum;
    for (int i = 0; i < k; i++) {
      u -= p[i];
      if (u <= 0) {
        return order[i];
      }
    }
    return order[k - 1];
  }
}
