package org.twicing.codegen.emit;

/**
 * Every {@code twicing.*} metadata key that twicing writes into an ONNX model's {@code metadata_props} or a
 * checkpoint's safetensors header, in one place. The spellings are part of the file formats: existing models,
 * checkpoints and runs are read by them, so a key is never renamed.
 */
public final class MetadataKeys {
  /** The model's preset name. */
  public static final String MODEL = "twicing.model";
  /** The model configuration as JSON. */
  public static final String CONFIG = "twicing.config";
  /** Prefix of a checkpoint's flat configuration entries, one per configuration key. */
  public static final String CONFIG_PREFIX = "twicing.config.";
  /** The attention kinds of the layers, as a list. */
  public static final String ATTENTION = "twicing.attention";
  /** The number of trainable parameters. */
  public static final String PARAMETERS = "twicing.parameters";
  /** Which artifact of a model a file is ({@code decode} for the KV-cache decoder). */
  public static final String ARTIFACT = "twicing.artifact";
  /** The loss of a training graph. */
  public static final String LOSS = "twicing.loss";
  /** The optimizer of a training graph. */
  public static final String OPTIMIZER = "twicing.optimizer";
  /** The global gradient-norm clip of a training graph. */
  public static final String CLIP_NORM = "twicing.clip_norm";
  /** The encoded training spec. */
  public static final String TRAINING_SPEC = "twicing.training_spec";
  /** What the twicing attention rewrite replaced. */
  public static final String ATTENTION_REWRITE = "twicing.attention_rewrite";
  /** What int8 quantization changed. */
  public static final String QUANTIZED = "twicing.quantized";
  /** A checkpoint's format marker. */
  public static final String FORMAT = "twicing.format";
  /** The number of optimizer steps taken. */
  public static final String STEP = "twicing.step";
  /** The data position after the last step. */
  public static final String DATA_POSITION = "twicing.data_position";
  /** The encoded learning-rate schedule. */
  public static final String LR_SCHEDULE = "twicing.lr_schedule";
  /** The planned total number of steps. */
  public static final String TOTAL_STEPS = "twicing.total_steps";
  /** Training examples seen so far. */
  public static final String SAMPLES = "twicing.samples";
  /** Prefix of the last evaluation's metrics in a trained model ({@code twicing.eval.accuracy}). */
  public static final String EVAL_PREFIX = "twicing.eval.";
  /** Prefix of a run's settings ({@code twicing.run.preset}, ...). */
  public static final String RUN_PREFIX = "twicing.run.";

  private MetadataKeys() {}
}
