package org.twicing.dsl.ir;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Builds a graph op by op. Every op call is type-checked at once; node and value names are hierarchical and
 * deterministic ({@code blocks.3.attn/MatMul_1}), derived from the module scope and a per-scope counter.
 */
public final class GraphBuilder {
  private final String name;
  private final List<Value> inputs = new ArrayList<>();
  private final LinkedHashMap<Value, Tensor> parameters = new LinkedHashMap<>();
  private final List<Node> nodes = new ArrayList<>();
  private final LinkedHashMap<String, Value> outputs = new LinkedHashMap<>();
  private final Map<String, Value> valuesByName = new HashMap<>();
  private final Map<String, Integer> counters = new HashMap<>();
  private final Deque<String> scopes = new ArrayDeque<>();
  private final LinkedHashMap<String, String> metadata = new LinkedHashMap<>();
  private String docString = "";

  /** Starts an empty graph called {@code name}. */
  public GraphBuilder(String name) {
    this.name = name;
  }

  /** The graph's name. */
  public String name() {
    return name;
  }

  /** Declares a graph input. */
  public Value input(String inputName, TensorType type) {
    claim(inputName, "input");
    Value v = new Value(this, inputName, type, Value.Kind.INPUT, null, 0, null, null);
    inputs.add(v);
    valuesByName.put(inputName, v);
    return v;
  }

  /** Declares a trainable parameter with its initial value; emitted as an initializer or a graph input. */
  public Value parameter(String paramName, Tensor initial) {
    claim(paramName, "parameter");
    Value v = new Value(this, paramName, initial.type(), Value.Kind.PARAMETER, null, 0, null, null);
    parameters.put(v, initial);
    valuesByName.put(paramName, v);
    return v;
  }

  /** Replaces the stored value of a parameter (used when loading weights); the type must match. */
  public void setParameter(Value param, Tensor value) {
    if (!parameters.containsKey(param)) {
      throw new IllegalArgumentException("'" + param.name() + "' is not a parameter of graph " + name);
    }
    if (!param.type().equals(value.type())) {
      throw new IllegalArgumentException("parameter '" + param.name() + "' has type " + param.type()
          + ", the new value has " + value.type());
    }
    parameters.put(param, value);
  }

  /** A constant node holding {@code value}. */
  public Value constant(Tensor value) {
    return apply(CoreOps.CONSTANT, List.of(), Attributes.of(CoreOps.VALUE, value)).get(0);
  }

  /** Opens a naming scope (closed by try-with-resources); nested scopes join with dots, as module paths do. */
  public Scope scope(String child) {
    String full = scopes.isEmpty() ? child : scopes.peek() + "." + child;
    scopes.push(full);
    return new Scope();
  }

  /** Opens a scope with an absolute path (module paths are already fully qualified). */
  public Scope absoluteScope(String fullPath) {
    scopes.push(fullPath);
    return new Scope();
  }

  /** The current scope path, empty at top level. */
  public String currentScope() {
    return scopes.isEmpty() ? "" : scopes.peek();
  }

  /** A scope opened by {@link #scope}; closing it returns to the enclosing scope. */
  public final class Scope implements AutoCloseable {
    private Scope() { }

    @Override
    public void close() {
      scopes.pop();
    }
  }

  /** Applies {@code op} to {@code operands}, type-checking at once; returns the node's outputs. */
  public List<Value> apply(OpDef op, List<Value> operands, Attributes attributes) {
    checkOperands(op, operands);
    String scope = currentScope();
    String base = (scope.isEmpty() ? "" : scope + "/") + op.onnxType();
    int k = counters.merge(base, 1, Integer::sum) - 1;
    String nodeName = k == 0 ? base : base + "_" + k;
    return add(op, nodeName, operands, attributes, List.of());
  }

  /**
   * Applies {@code op} as a node called {@code nodeName} whose outputs take {@code outputNames} (an absent, null
   * or empty entry gets a name derived from the node's): for importers that keep a foreign graph's value names.
   */
  public List<Value> applyNamed(OpDef op, String nodeName, List<Value> operands, Attributes attributes,
      List<String> outputNames) {
    checkOperands(op, operands);
    for (String n : outputNames) {
      if (n != null && !n.isEmpty()) {
        claim(n, "node output");
      }
    }
    return add(op, nodeName, operands, attributes, outputNames);
  }

  private void checkOperands(OpDef op, List<Value> operands) {
    for (Value v : operands) {
      if (v != null && v.graph() != this) {
        throw new ShapeError(op.onnxType() + ": operand " + v + " belongs to graph '" + v.graph().name()
            + "', not '" + name + "'");
      }
    }
  }

  private List<Value> add(OpDef op, String nodeName, List<Value> operands, Attributes attributes,
      List<String> outputNames) {
    String scope = currentScope();
    OpCall call = new OpCall(op, nodeName, operands, attributes);
    List<TensorType> types = op.infer(call);
    Node node = new Node(op, nodeName, scope, operands, attributes);
    Tensor folded = op.constantValue(attributes);
    for (int i = 0; i < types.size(); i++) {
      String given = i < outputNames.size() ? outputNames.get(i) : null;
      String valueName = given != null && !given.isEmpty() ? given
          : types.size() == 1 ? nodeName : nodeName + ":" + i;
      List<Dim> sv = op.shapeValue(call, i);
      Value out = new Value(this, valueName, types.get(i), Value.Kind.NODE, node, i, folded, sv);
      node.addOutput(out);
      valuesByName.put(valueName, out);
    }
    nodes.add(node);
    return node.outputs();
  }

  /** Applies a single-output op. */
  public Value apply1(OpDef op, Attributes attributes, Value... operands) {
    return apply(op, Arrays.asList(operands), attributes).get(0);
  }

  /** Marks {@code v} as the graph output {@code outputName} (adding an Identity when the names differ). */
  public void output(String outputName, Value v) {
    if (outputs.containsKey(outputName)) {
      throw new IllegalArgumentException("graph " + name + " already has an output named '" + outputName + "'");
    }
    Value out = v;
    if (!v.name().equals(outputName) || v.kind() != Value.Kind.NODE) {
      claim(outputName, "output");
      Node node = new Node(CoreOps.IDENTITY, "outputs/" + outputName, "", List.of(v), Attributes.none());
      out = new Value(this, outputName, v.type(), Value.Kind.NODE, node, 0, null, v.shapeValue());
      node.addOutput(out);
      nodes.add(node);
      valuesByName.put(outputName, out);
    }
    outputs.put(outputName, out);
  }

  /** Sets a metadata property recorded in the emitted model. */
  public void metadata(String key, String value) {
    metadata.put(key, value);
  }

  /** Sets the graph's documentation string. */
  public void docString(String doc) {
    this.docString = doc;
  }

  /** The parameters declared so far, in declaration order. */
  public Map<Value, Tensor> parameters() {
    return Collections.unmodifiableMap(parameters);
  }

  /** The value named {@code valueName}, or null. */
  public Value find(String valueName) {
    return valuesByName.get(valueName);
  }

  /** The nodes so far, in creation (topological) order. */
  public List<Node> nodes() {
    return Collections.unmodifiableList(nodes);
  }

  /** The inputs declared so far. */
  public List<Value> inputs() {
    return Collections.unmodifiableList(inputs);
  }

  /** A snapshot of the graph built so far. */
  public Graph build() {
    if (outputs.isEmpty()) {
      throw new IllegalStateException("graph " + name + " has no outputs; call output(name, value)");
    }
    return new Graph(name, inputs, parameters, nodes, outputs, metadata, docString);
  }

  private void claim(String valueName, String what) {
    if (valueName == null || valueName.isEmpty()) {
      throw new IllegalArgumentException("a graph " + what + " needs a non-empty name");
    }
    if (valuesByName.containsKey(valueName)) {
      throw new IllegalArgumentException("graph " + name + " already has a value named '" + valueName
          + "'; " + what + " names must be unique");
    }
  }
}
