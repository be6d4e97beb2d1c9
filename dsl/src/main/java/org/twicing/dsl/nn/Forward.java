package org.twicing.dsl.nn;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.Tensor;

/**
 * The context of one forward construction: the graph being built, the weights, and whether this is a training
 * graph (dropout active, each dropout node with its own seed derived from {@code dropoutSeed}).
 */
public final class Forward {
  private final GraphBuilder graph;
  private final StateDict weights;
  private final boolean training;
  private final long dropoutSeed;
  private long dropoutCount;
  private final LinkedHashMap<String, Value> taps = new LinkedHashMap<>();

  /** A context building into {@code graph} with the given weights. */
  public Forward(GraphBuilder graph, StateDict weights, boolean training, long dropoutSeed) {
    this.graph = graph;
    this.weights = weights;
    this.training = training;
    this.dropoutSeed = dropoutSeed;
  }

  /** The graph under construction. */
  public GraphBuilder graph() {
    return graph;
  }

  /** Whether this builds a training graph. */
  public boolean training() {
    return training;
  }

  /** The graph value of parameter {@code p}, declared on first use (so shared weights are one value). */
  public Value param(Param p) {
    Value v = graph.find(p.name());
    if (v != null) {
      return v;
    }
    Tensor t = weights.get(p.name());
    if (t == null) {
      throw new IllegalArgumentException("no weight for parameter '" + p.name() + "'");
    }
    if (!Arrays.equals(t.shape(), p.shape())) {
      throw new IllegalArgumentException("weight '" + p.name() + "' has shape " + Arrays.toString(t.shape())
          + ", the model declares " + Arrays.toString(p.shape()));
    }
    return graph.parameter(p.name(), t);
  }

  /** Applies dropout with probability {@code ratio} in training graphs; the identity otherwise. */
  public Value dropout(Value x, double ratio) {
    if (!training || ratio <= 0) {
      return x;
    }
    return Ops.dropout(x, ratio, dropoutSeed + 1000003L * (dropoutCount++)).get(0);
  }

  /**
   * Records an intermediate value under {@code name} (models tap each block's output) so analyses such as
   * oversmoothing can expose it as a graph output; returns {@code v} unchanged.
   */
  public Value tap(String name, Value v) {
    taps.put(name, v);
    return v;
  }

  /** The values recorded by {@link #tap}, in order. */
  public Map<String, Value> taps() {
    return Collections.unmodifiableMap(taps);
  }

  /** Opens a naming scope for a module's nodes. */
  public GraphBuilder.Scope scope(Module m) {
    return graph.absoluteScope(m.path().isEmpty() ? "model" : m.path());
  }
}
