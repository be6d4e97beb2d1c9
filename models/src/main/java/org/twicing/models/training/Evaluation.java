package org.twicing.models.training;

import ai.onnxruntime.OnnxTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.data.TextData;
import org.twicing.runtime.Tensors;
import org.twicing.runtime.train.Evaluator;
import org.twicing.runtime.train.InferenceRunner;

/**
 * How a trained model is measured, with its inference graph: top-1 accuracy (and mean cross-entropy) on a labelled
 * image set for classifiers such as the ViT, and mean next-byte cross-entropy with its perplexity on the
 * validation text for language models. During training, periodic evaluations may use a prefix of the data; the
 * final one ({@code full}) uses all of it (up to a cap for text).
 */
public abstract class Evaluation implements Evaluator {
  private Evaluation() { }

  /** The headline metric's name ({@code accuracy}, {@code loss}). */
  public abstract String headline();

  /** One line describing {@code metrics} for people, e.g. {@code test accuracy 0.8712 (10000 images)}. */
  public abstract String summary(Map<String, Double> metrics);

  /**
   * Accuracy of the model's argmax on {@code images}, in batches of {@code batchSize}; periodic evaluations use the
   * first {@code periodicLimit} images (0: all).
   */
  public static Evaluation accuracy(LabeledImages images, int batchSize, int periodicLimit) {
    return new Accuracy(images, batchSize, periodicLimit);
  }

  /**
   * Loss and perplexity on consecutive, non-overlapping windows of {@code context} bytes of the validation split of
   * {@code text}: at most {@code maxWindows} windows in full evaluations and {@code periodicWindows} in periodic ones;
   * fails naming the source when the split is too short for one window.
   */
  public static Evaluation languageModel(TextData text, int context, int batchSize, int periodicWindows,
      int maxWindows) {
    return new LanguageModel(text, context, batchSize, periodicWindows, maxWindows);
  }

  /** Log-sum-exp of {@code n} logits starting at {@code from}. */
  static double logSumExp(float[] logits, int from, int n) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      max = Math.max(max, logits[from + i]);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
      sum += Math.exp(logits[from + i] - max);
    }
    return max + Math.log(sum);
  }

  private static final class Accuracy extends Evaluation {
    private final LabeledImages images;
    private final int batchSize;
    private final int periodicLimit;

    Accuracy(LabeledImages images, int batchSize, int periodicLimit) {
      if (batchSize <= 0) {
        throw new IllegalArgumentException("evaluation batch size must be positive, got " + batchSize);
      }
      if (images.size() == 0) {
        throw new IllegalArgumentException(images.source() + ": no images to evaluate on");
      }
      this.images = images;
      this.batchSize = batchSize;
      this.periodicLimit = periodicLimit;
    }

    @Override
    public String headline() {
      return "accuracy";
    }

    @Override
    public Map<String, Double> evaluate(InferenceRunner model, boolean full) {
      int n = full || periodicLimit <= 0 ? images.size() : Math.min(images.size(), periodicLimit);
      int pixels = images.pixelsPerImage();
      FloatBuffer buf = ByteBuffer.allocateDirect(batchSize * pixels * 4).order(ByteOrder.nativeOrder())
          .asFloatBuffer();
      float[] row = new float[pixels];
      long correct = 0;
      double lossSum = 0;
      long classes = -1;
      for (int from = 0; from < n; from += batchSize) {
        int b = Math.min(batchSize, n - from);
        buf.clear();
        for (int i = 0; i < b; i++) {
          images.copyNormalizedImage(from + i, row, 0);
          buf.put(row);
        }
        buf.flip();
        float[] logits;
        try (OnnxTensor in = Tensors.fromBuffer(buf, b, 1, images.rows(), images.cols())) {
          logits = model.logits(in);
        }
        int c = logits.length / b;
        if (classes < 0) {
          classes = c;
        }
        for (int i = 0; i < b; i++) {
          int best = 0;
          for (int k = 1; k < c; k++) {
            if (logits[i * c + k] > logits[i * c + best]) {
              best = k;
            }
          }
          long label = images.label(from + i);
          correct += best == label ? 1 : 0;
          lossSum += logSumExp(logits, i * c, c) - (label < c ? logits[i * c + (int) label] : Double.NaN);
        }
      }
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("accuracy", correct / (double) n);
      m.put("loss", lossSum / n);
      m.put("examples", (double) n);
      return m;
    }

    @Override
    public String summary(Map<String, Double> m) {
      return String.format(Locale.ROOT, "test accuracy %.4f (%d images; test loss %.4f)", m.get("accuracy"),
          m.get("examples").longValue(), m.get("loss"));
    }
  }

  private static final class LanguageModel extends Evaluation {
    private final byte[] bytes;
    private final String source;
    private final int context;
    private final int batchSize;
    private final int periodicWindows;
    private final int maxWindows;

    LanguageModel(TextData text, int context, int batchSize, int periodicWindows, int maxWindows) {
      if (batchSize <= 0 || context <= 0) {
        throw new IllegalArgumentException("evaluation batch size and context must be positive");
      }
      this.bytes = text.bytes(TextData.Split.VALIDATION);
      this.source = text.source();
      this.context = context;
      this.batchSize = batchSize;
      this.periodicWindows = periodicWindows;
      this.maxWindows = maxWindows;
      if (available() == 0) {
        throw new IllegalArgumentException(source + ": the validation split has " + bytes.length
            + " bytes, too few for one window of context + 1 = " + (context + 1) + " bytes (use a longer text)");
      }
    }

    private int available() {
      return bytes.length < context + 1 ? 0 : (bytes.length - 1) / context;
    }

    @Override
    public String headline() {
      return "loss";
    }

    @Override
    public Map<String, Double> evaluate(InferenceRunner model, boolean full) {
      int cap = full ? maxWindows : periodicWindows;
      int windows = cap > 0 ? Math.min(available(), cap) : available();
      LongBuffer buf = ByteBuffer.allocateDirect(batchSize * context * 8).order(ByteOrder.nativeOrder())
          .asLongBuffer();
      double lossSum = 0;
      long positions = 0;
      for (int w0 = 0; w0 < windows; w0 += batchSize) {
        int b = Math.min(batchSize, windows - w0);
        buf.clear();
        for (int i = 0; i < b; i++) {
          int start = (w0 + i) * context;
          for (int t = 0; t < context; t++) {
            buf.put(bytes[start + t] & 0xff);
          }
        }
        buf.flip();
        float[] logits;
        try (OnnxTensor in = Tensors.fromBuffer(buf, b, context)) {
          logits = model.logits(in);
        }
        int v = logits.length / (b * context);
        for (int i = 0; i < b; i++) {
          int start = (w0 + i) * context;
          for (int t = 0; t < context; t++) {
            int at = (i * context + t) * v;
            int target = bytes[start + t + 1] & 0xff;
            lossSum += logSumExp(logits, at, v) - logits[at + target];
            positions++;
          }
        }
      }
      double loss = lossSum / positions;
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("loss", loss);
      m.put("perplexity", Math.exp(loss));
      m.put("tokens", (double) positions);
      return m;
    }

    @Override
    public String summary(Map<String, Double> m) {
      return String.format(Locale.ROOT, "validation loss %.4f, perplexity %.3f (%d tokens of %s)", m.get("loss"),
          m.get("perplexity"), m.get("tokens").longValue(), source);
    }
  }
}
