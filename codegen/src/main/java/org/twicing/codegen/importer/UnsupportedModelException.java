package org.twicing.codegen.importer;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Thrown once per model when it cannot be imported as a whole: every op type we lack (with how often it occurs
 * and its first node), ops of non-default domains, or an opset outside the supported range. The message names
 * the model's opset and producer so a user can tell which exporter setting to change.
 */
public final class UnsupportedModelException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * One op type the importer cannot take.
   *
   * @param domain the node's domain, empty for the default ONNX domain
   * @param opType the ONNX op type
   * @param count how many nodes use it
   * @param firstNode the name of the first such node (or its position when unnamed)
   */
  public record OpUsage(String domain, String opType, int count, String firstNode) {
    /** {@code Foo ×3 (first node 'n1')}, with the domain prefixed when not the default. */
    @Override
    public String toString() {
      return (domain.isEmpty() ? "" : domain + ".") + opType + " ×" + count + " (first node '" + firstNode + "')";
    }
  }

  private final transient List<OpUsage> unsupported;
  private final long opset;
  private final String producer;

  /** Creates the error; {@code problem} is an extra sentence (opset out of range), or empty. */
  public UnsupportedModelException(String model, List<OpUsage> unsupported, long opset, String producer,
      String problem) {
    super(message(model, unsupported, opset, producer, problem));
    this.unsupported = List.copyOf(unsupported);
    this.opset = opset;
    this.producer = producer;
  }

  private static String message(String model, List<OpUsage> ops, long opset, String producer, String problem) {
    StringBuilder sb = new StringBuilder("cannot import ").append(model).append(" (opset ").append(opset)
        .append(", produced by ").append(producer).append(")");
    if (!problem.isEmpty()) {
      sb.append(": ").append(problem);
    }
    List<OpUsage> standard = ops.stream().filter(o -> o.domain().isEmpty()).toList();
    List<OpUsage> foreign = ops.stream().filter(o -> !o.domain().isEmpty()).toList();
    if (!standard.isEmpty()) {
      sb.append(problem.isEmpty() ? ": " : "; ").append("unsupported ops: ")
          .append(standard.stream().map(OpUsage::toString).collect(Collectors.joining(", ")));
    }
    if (!foreign.isEmpty()) {
      sb.append(problem.isEmpty() && standard.isEmpty() ? ": " : "; ")
          .append("ops of non-default domains (only the default ONNX domain is supported): ")
          .append(foreign.stream().map(OpUsage::toString).collect(Collectors.joining(", ")));
    }
    return sb.toString();
  }

  /** Every op type the model uses that the importer lacks, in order of first use. */
  public List<OpUsage> unsupportedOps() {
    return unsupported;
  }

  /** The model's default-domain opset. */
  public long opset() {
    return opset;
  }

  /** The model's producer, e.g. {@code pytorch 1.13.1}. */
  public String producer() {
    return producer;
  }
}
