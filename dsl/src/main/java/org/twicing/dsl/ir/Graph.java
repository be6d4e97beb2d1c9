package org.twicing.dsl.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.types.Tensor;

/**
 * An immutable snapshot of a built graph: inputs, parameters with their values, nodes in topological order,
 * named outputs, metadata. Emission decides whether parameters become initializers or graph inputs.
 */
public final class Graph {
  private final String name;
  private final List<Value> inputs;
  private final Map<Value, Tensor> parameters;
  private final List<Node> nodes;
  private final Map<String, Value> outputs;
  private final Map<String, String> metadata;
  private final String docString;
  private volatile Map<Value, Node> producers;

  /** Creates a snapshot (collections are copied). */
  public Graph(String name, List<Value> inputs, Map<Value, Tensor> parameters, List<Node> nodes,
      Map<String, Value> outputs, Map<String, String> metadata, String docString) {
    this.name = name;
    this.inputs = Collections.unmodifiableList(new ArrayList<>(inputs));
    this.parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    this.nodes = Collections.unmodifiableList(new ArrayList<>(nodes));
    this.outputs = Collections.unmodifiableMap(new LinkedHashMap<>(outputs));
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    this.docString = docString;
  }

  /** The graph name. */
  public String name() {
    return name;
  }

  /** Graph inputs in order. */
  public List<Value> inputs() {
    return inputs;
  }

  /** Parameters with their values, in declaration order. */
  public Map<Value, Tensor> parameters() {
    return parameters;
  }

  /** Nodes in topological order. */
  public List<Node> nodes() {
    return nodes;
  }

  /** The node of this graph that computes {@code v}, or null when no node does (an input or a parameter). */
  public Node producer(Value v) {
    Map<Value, Node> p = producers;
    if (p == null) {
      p = new IdentityHashMap<>();
      for (Node n : nodes) {
        for (Value o : n.outputs()) {
          p.put(o, n);
        }
      }
      producers = p;
    }
    return p.get(v);
  }

  /** Outputs by name, in order. */
  public Map<String, Value> outputs() {
    return outputs;
  }

  /** Metadata properties. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Documentation string. */
  public String docString() {
    return docString;
  }

  /** The parameter named {@code paramName}, or null. */
  public Value parameter(String paramName) {
    for (Value v : parameters.keySet()) {
      if (v.name().equals(paramName)) {
        return v;
      }
    }
    return null;
  }

  /** Number of scalar parameters. */
  public long parameterCount() {
    long n = 0;
    for (Tensor t : parameters.values()) {
      n += t.size();
    }
    return n;
  }

  /** A copy with other nodes and outputs (used by graph passes); inputs and parameters are kept. */
  public Graph withNodes(List<Node> newNodes, Map<String, Value> newOutputs) {
    return new Graph(name, inputs, parameters, newNodes, newOutputs, metadata, docString);
  }

  /** A copy with other parameters values (same keys), e.g. after training. */
  public Graph withParameters(Map<Value, Tensor> newParameters) {
    return new Graph(name, inputs, newParameters, nodes, outputs, metadata, docString);
  }

  /** A copy with extra metadata entries. */
  public Graph withMetadata(Map<String, String> extra) {
    Map<String, String> m = new LinkedHashMap<>(metadata);
    m.putAll(extra);
    return new Graph(name, inputs, parameters, nodes, outputs, m, docString);
  }
}
