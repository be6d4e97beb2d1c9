package org.twicing.codegen.importer;

import org.twicing.dsl.ir.Graph;

/**
 * A model read from an ONNX file: the graph in our IR (value names kept, float initializers as parameters), the
 * default-domain opset it was written for, and who produced it.
 *
 * @param graph the imported graph, normalised to our op forms
 * @param opset the model's default-domain opset version
 * @param producerName the ModelProto's producer_name (e.g. {@code pytorch}), empty when unset
 * @param producerVersion the ModelProto's producer_version, empty when unset
 */
public record ImportedModel(Graph graph, long opset, String producerName, String producerVersion) {
  /** The producer as one phrase, e.g. {@code pytorch 1.13.1}, or {@code unknown producer}. */
  public String producer() {
    String p = (producerName + " " + producerVersion).trim();
    return p.isEmpty() ? "unknown producer" : p;
  }
}
