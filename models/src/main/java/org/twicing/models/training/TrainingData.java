package org.twicing.models.training;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.twicing.codegen.importer.ForeignModel;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorType;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.TextData;
import org.twicing.runtime.train.BatchSource;

/**
 * A data set named on the command line: {@code fashion-mnist} (from {@code --data-dir}, else the system copy, else
 * the bundled subset) or {@code text:PATH} (byte-level text); it gives the trainer's batches and the evaluation
 * that fit a model.
 */
public final class TrainingData {
  /** The spec of Fashion-MNIST. */
  public static final String FASHION_MNIST = "fashion-mnist";

  private final String spec;
  private final FashionMnist fashion;
  private final TextData text;

  private TrainingData(String spec, FashionMnist fashion, TextData text) {
    this.spec = spec;
    this.fashion = fashion;
    this.text = text;
  }

  /** Whether {@code spec} names text data. */
  public static boolean isText(String spec) {
    return spec != null && spec.startsWith(TextData.SCHEME);
  }

  /** Loads {@code spec}; {@code dataDir} applies to Fashion-MNIST (null: system copy, else bundled subset). */
  public static TrainingData load(String spec, Path dataDir) throws IOException {
    if (spec == null || spec.isBlank()) {
      throw new IllegalArgumentException("--data must be 'fashion-mnist' or 'text:PATH'");
    }
    if (spec.trim().toLowerCase(Locale.ROOT).equals(FASHION_MNIST)) {
      return new TrainingData(FASHION_MNIST, FashionMnist.load(dataDir), null);
    }
    if (isText(spec)) {
      if (dataDir != null) {
        throw new IllegalArgumentException("--data-dir applies to fashion-mnist; for text data give the path in "
            + "--data text:PATH");
      }
      return new TrainingData(spec, null, TextData.load(spec));
    }
    throw new IllegalArgumentException("unknown data '" + spec + "': expected 'fashion-mnist' or 'text:PATH' (a UTF-8"
        + " file or a directory of them)");
  }

  /** Wraps already loaded Fashion-MNIST. */
  public static TrainingData of(FashionMnist data) {
    return new TrainingData(FASHION_MNIST, data, null);
  }

  /** Wraps already loaded text. */
  public static TrainingData of(TextData data) {
    return new TrainingData(data.source(), null, data);
  }

  /** The spec as given ({@code fashion-mnist}, {@code text:PATH}). */
  public String spec() {
    return spec;
  }

  /** Whether this is image data. */
  public boolean isImages() {
    return fashion != null;
  }

  /** The Fashion-MNIST data, or null. */
  public FashionMnist fashion() {
    return fashion;
  }

  /** The text, or null. */
  public TextData text() {
    return text;
  }

  /** Where the data came from, for people. */
  public String describe() {
    if (fashion != null) {
      return "Fashion-MNIST from " + fashion.source() + " (" + fashion.train().size() + " train / "
          + fashion.test().size() + " test images)";
    }
    return "text " + text.source() + " (" + text.size(TextData.Split.TRAIN) + " train / "
        + text.size(TextData.Split.VALIDATION) + " validation bytes)";
  }

  /** Fails with a message naming both when {@code model} cannot be trained on this data. */
  public void requireFits(TaskModel model) {
    if (model instanceof ForeignModel f) {
      requireFitsForeign(f);
      return;
    }
    if (fashion != null) {
      if (!(model instanceof VisionTransformer v) || v.cfg().channels() != 1 || v.cfg().imageSize() != 28) {
        throw new IllegalArgumentException("model '" + model.name() + "' does not take 28x28 grey images; "
            + "Fashion-MNIST needs an image model such as vit-fmnist");
      }
      if (v.cfg().classes() != FashionMnist.NUM_CLASSES) {
        throw new IllegalArgumentException("model '" + model.name() + "' has " + v.cfg().classes()
            + " classes; Fashion-MNIST has " + FashionMnist.NUM_CLASSES);
      }
    } else {
      if (!(model instanceof Gpt g)) {
        throw new IllegalArgumentException("model '" + model.name() + "' is not a language model; text data needs"
            + " one such as lm-tiny");
      }
      if (g.cfg().vocab() < TextData.VOCAB_SIZE) {
        throw new IllegalArgumentException("model '" + model.name() + "' has a vocabulary of " + g.cfg().vocab()
            + "; byte-level text needs at least " + TextData.VOCAB_SIZE);
      }
    }
  }

  /**
   * An imported model takes a batch of this data only if its one input has the batch's dtype and shape: float32
   * [batch, 1, 28, 28] images with at least 10 classes, or int64 [batch, T] tokens with T fixed and logits
   * [batch, T, V], V at least 256. The batch dimension must be symbolic (evaluation batches vary in size).
   */
  private void requireFitsForeign(ForeignModel m) {
    TensorType in = m.inputType();
    String what = "model '" + m.name() + "' takes input '" + m.inputName() + "' " + in;
    long[] want = fashion != null ? new long[] {-1, 1, FashionMnist.SIDE, FashionMnist.SIDE} : new long[] {-1, -1};
    DType dtype = fashion != null ? DType.FLOAT32 : DType.INT64;
    String data = fashion != null ? "Fashion-MNIST batches are float32 [batch, 1, 28, 28] images"
        : "text batches are int64 [batch, T] byte ids";
    boolean fits = in.dtype() == dtype && in.rank() == want.length && !in.shape().dim(0).isFixed();
    for (int i = 1; fits && i < want.length; i++) {
      fits = want[i] < 0 || !in.shape().dim(i).isFixed() || in.shape().dim(i).size() == want[i];
    }
    if (!fits) {
      throw new IllegalArgumentException(what + ", which cannot take this data: " + data
          + (in.rank() > 0 && in.shape().dim(0).isFixed() ? " (and the batch dimension must be symbolic: export "
              + "with a dynamic batch axis)" : ""));
    }
    if (fashion != null) {
      if (m.labelsType().rank() != 1 || m.classes() < FashionMnist.NUM_CLASSES) {
        throw new IllegalArgumentException("model '" + m.name() + "' has logits '" + m.logitsOutput() + "' "
            + m.graph().outputs().get(m.logitsOutput()).type() + "; Fashion-MNIST needs [batch, C] logits with C >= "
            + FashionMnist.NUM_CLASSES);
      }
    } else {
      if (m.labelsType().rank() != 2 || m.sequenceLength() <= 0 || m.classes() < TextData.VOCAB_SIZE) {
        throw new IllegalArgumentException("model '" + m.name() + "' has logits '" + m.logitsOutput() + "' "
            + m.graph().outputs().get(m.logitsOutput()).type() + "; byte-level text needs [batch, T, V] logits with "
            + "a fixed T and V >= " + TextData.VOCAB_SIZE);
      }
    }
  }

  /** The model's context length (language models, imported ones with a fixed sequence length), else 0. */
  public static int context(TaskModel model) {
    if (model instanceof ForeignModel f) {
      return Math.toIntExact(f.sequenceLength());
    }
    return model instanceof Gpt g ? Math.toIntExact(g.cfg().context()) : 0;
  }

  /** The training batches for {@code model}. */
  public BatchSource trainBatches(TaskModel model, int batchSize, long seed) {
    requireFits(model);
    if (fashion != null) {
      return new FashionMnistBatches(fashion.train(), batchSize, seed);
    }
    return new TextBatches(text, batchSize, context(model), seed);
  }

  /**
   * The evaluation for {@code model}: test-set accuracy (periodic evaluations on the first 2000 test images) or
   * validation loss and perplexity (periodic: 64 windows; final: up to 1024).
   */
  public Evaluation evaluation(TaskModel model, int batchSize) {
    requireFits(model);
    if (fashion != null) {
      return Evaluation.accuracy(fashion.test(), batchSize, 2000);
    }
    return Evaluation.languageModel(text, context(model), batchSize, 64, 1024);
  }
}
