package org.twicing.spark;

import ai.onnxruntime.OnnxTensor;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.runtime.Tensors;

/**
 * One worker's part of a training step: its examples (float32 or int64 input), labels, their shapes, and its
 * weight, the number of labelled positions its mean loss averages over (its examples, for classifiers).
 *
 * @param index the worker (0-based)
 * @param step the training step (from 1)
 * @param floats the input values when the input is float32 (else null)
 * @param longs the input values when the input is int64 (else null)
 * @param inputShape the shard's input shape
 * @param labels the shard's labels
 * @param labelShape the shard's label shape
 * @param weight labelled positions (labels other than the ignore index)
 */
record Shard(int index, long step, float[] floats, long[] longs, long[] inputShape, long[] labels, long[] labelShape,
    long weight) implements Serializable {

  /** The error for more workers than examples: every worker needs at least one. */
  static IllegalArgumentException tooManyWorkers(int workers, int examples, long step) {
    return new IllegalArgumentException("--workers " + workers + " is more than the " + examples + " examples of "
        + "step " + step + "'s batch: every worker needs at least one example (use a larger --batch or fewer "
        + "--workers)");
  }

  /** W contiguous shards of a batch, the first {@code n % W} one example larger, so any W up to n splits it exactly. */
  static List<Shard> split(OnnxTensor input, OnnxTensor labels, int workers, boolean floatInput, long ignoreIndex,
      long step) {
    long[] inShape = Tensors.shapeOf(input);
    long[] labelShape = Tensors.shapeOf(labels);
    int n = Math.toIntExact(inShape[0]);
    if (workers > n) {
      throw tooManyWorkers(workers, n, step);
    }
    int perIn = Math.toIntExact(elements(inShape) / n);
    int perLabel = Math.toIntExact(elements(labelShape) / n);
    float[] fin = floatInput ? Tensors.toFloats(input) : null;
    long[] lin = floatInput ? null : Tensors.toLongs(input);
    long[] lab = Tensors.toLongs(labels);
    List<Shard> shards = new ArrayList<>();
    int from = 0;
    for (int k = 0; k < workers; k++) {
      int size = n / workers + (k < n % workers ? 1 : 0);
      long[] is = inShape.clone();
      is[0] = size;
      long[] ls = labelShape.clone();
      ls[0] = size;
      long[] shardLabels = Arrays.copyOfRange(lab, from * perLabel, (from + size) * perLabel);
      long weight = 0;
      for (long l : shardLabels) {
        weight += l == ignoreIndex ? 0 : 1;
      }
      shards.add(new Shard(k, step, floatInput ? Arrays.copyOfRange(fin, from * perIn, (from + size) * perIn) : null,
          floatInput ? null : Arrays.copyOfRange(lin, from * perIn, (from + size) * perIn), is, shardLabels, ls,
          weight));
      from += size;
    }
    return shards;
  }

  /** The shard's input as an ONNX Runtime tensor (the caller closes it). */
  OnnxTensor inputTensor() {
    return floats != null ? Tensors.floats(floats, inputShape) : Tensors.longs(longs, inputShape);
  }

  /** The shard's labels as an ONNX Runtime tensor (the caller closes it). */
  OnnxTensor labelTensor() {
    return Tensors.longs(labels, labelShape);
  }

  private static long elements(long[] shape) {
    long e = 1;
    for (long d : shape) {
      e *= d;
    }
    return e;
  }
}
