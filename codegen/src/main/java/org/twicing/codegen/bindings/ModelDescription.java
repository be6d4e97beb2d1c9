package org.twicing.codegen.bindings;

import static org.twicing.codegen.bindings.JavadocText.code;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.inspect.ModelSummary;

/**
 * Model metadata and symbolic dimensions as the Javadoc of every generated class states them.
 *
 * @param modelName the model's name
 * @param summary the model's metadata, parameter count, producer and opsets
 * @param symbols the named symbolic dimensions of the inputs, in order of appearance
 */
record ModelDescription(String modelName, ModelSummary summary, Set<String> symbols) {
  /** The description of {@code model} with the symbols of {@code inputs}. */
  static ModelDescription of(String modelName, ModelSummary summary, List<Port> inputs) {
    Set<String> out = new LinkedHashSet<>();
    for (Port p : inputs) {
      for (int i = 0; i < p.spec().rank(); i++) {
        if (p.spec().isBound(i)) {
          out.add(p.spec().dim(i).symbol());
        }
      }
    }
    return new ModelDescription(modelName, summary, out);
  }

  /** E.g. "Model: preset {@code vit-fmnist}, 210,000 parameters (producer ..., opset 17)." */
  String metadataSentence() {
    Map<String, String> meta = summary.metadata();
    List<String> parts = new ArrayList<>();
    if (meta.containsKey(MetadataKeys.MODEL)) {
      parts.add("preset " + code(meta.get(MetadataKeys.MODEL)));
    }
    if (meta.containsKey(MetadataKeys.ATTENTION)) {
      parts.add("attention " + code(meta.get(MetadataKeys.ATTENTION)));
    }
    long params = summary.parameterCount();
    try {
      params = Long.parseLong(meta.getOrDefault(MetadataKeys.PARAMETERS, Long.toString(params)).trim());
    } catch (NumberFormatException e) {
      // A foreign value that is not a number: count the initializers instead.
    }
    parts.add(String.format(Locale.ROOT, "%,d parameters", params));
    String producer = summary.producer().isBlank() ? "" : "producer " + code(summary.producer().strip());
    String opset = summary.opsets().containsKey("ai.onnx") ? "opset " + summary.opsets().get("ai.onnx") : "";
    String origin = producer.isEmpty() || opset.isEmpty() ? producer + opset : producer + ", " + opset;
    return "Model: " + String.join(", ", parts) + (origin.isEmpty() ? "" : " (" + origin + ")") + ".";
  }

  /** The clause on symbolic dimensions in a class's input contract, or empty when there are none. */
  String symbolsClause() {
    if (symbols.isEmpty()) {
      return "";
    }
    return ", and " + (symbols.size() == 1 ? "the symbolic dimension " : "each symbolic dimension (")
        + symbols.stream().map(JavadocText::code).collect(Collectors.joining(", "))
        + (symbols.size() == 1 ? " must" : ") must") + " have one size across all inputs of a call";
  }

  /** The {@code @throws IllegalArgumentException} text of a run or step method on arrays or buffers. */
  String throwsClause(List<Port> inputs, boolean arrays) {
    List<String> cases = new ArrayList<>();
    if (arrays) {
      cases.add("an array is null or ragged");
    } else {
      cases.add("a buffer or shape is null");
      cases.add("a shape has the wrong rank or another number of elements than its buffer");
    }
    cases.add("a fixed dimension has another size");
    if (!symbols.isEmpty()) {
      cases.add("a symbolic dimension (" + symbols.stream().map(JavadocText::code)
          .collect(Collectors.joining(", ")) + ") has different sizes in different places");
    }
    String list = cases.size() == 2 ? cases.get(0) + " or " + cases.get(1)
        : String.join(", ", cases.subList(0, cases.size() - 1)) + ", or " + cases.get(cases.size() - 1);
    return "if " + list + "; the message names the input and gives the expected and the actual shape";
  }
}
