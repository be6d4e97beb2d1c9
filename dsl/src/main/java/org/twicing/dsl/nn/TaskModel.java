package org.twicing.dsl.nn;

import java.util.List;
import java.util.Map;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.TensorType;

/**
 * A complete model with one named input and logits out: what the compiler turns into inference, gradient and
 * training-step graphs. Implementations say their input and label types and how logits are computed.
 */
public abstract class TaskModel extends Module {
  /** The model's name (the preset name for zoo models), used for graph names and metadata. */
  public abstract String name();

  /** The graph input's name ({@code pixels}, {@code tokens}). */
  public abstract String inputName();

  /** The graph input's type, with symbolic dims such as {@code batch}. */
  public abstract TensorType inputType();

  /** The type of the integer class labels that go with one input ([batch] or [batch, T]). */
  public abstract TensorType labelsType();

  /** Number of classes (vocabulary size for a language model). */
  public abstract long classes();

  /** Builds the logits for {@code input}. */
  public abstract Value logits(Forward f, Value input);

  /** The attention kind of each layer, in depth order. */
  public abstract List<AttentionKind> attentionKinds();

  /** The configuration as flat key/value pairs (written as model metadata and JSON). */
  public abstract Map<String, String> config();

  /** The configuration as a JSON object (numbers unquoted, lists as arrays). */
  public String configJson() {
    StringBuilder sb = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<String, String> e : config().entrySet()) {
      if (!first) {
        sb.append(',');
      }
      first = false;
      sb.append('"').append(e.getKey()).append("\":").append(jsonValue(e.getValue()));
    }
    return sb.append('}').toString();
  }

  private static String jsonValue(String v) {
    if (v.matches("-?[0-9]+(\\.[0-9]+)?([eE]-?[0-9]+)?") || v.equals("true") || v.equals("false")) {
      return v;
    }
    if (v.startsWith("[")) {
      StringBuilder sb = new StringBuilder("[");
      String inner = v.substring(1, v.length() - 1).trim();
      if (!inner.isEmpty()) {
        String[] items = inner.split(",");
        for (int i = 0; i < items.length; i++) {
          sb.append(i > 0 ? "," : "").append(jsonValue(items[i].trim()));
        }
      }
      return sb.append(']').toString();
    }
    return '"' + v.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }
}
