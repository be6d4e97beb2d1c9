package org.twicing.dsl.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A node of a declarative model: named parameters and named child modules, giving hierarchical parameter names
 * as in PyTorch's {@code state_dict}. Subclasses declare parameters and children in their constructors and
 * define a forward method that builds graph nodes through a {@link Forward} context.
 */
public abstract class Module {
  private final Map<String, Module> children = new LinkedHashMap<>();
  private final Map<String, Param> params = new LinkedHashMap<>();
  private String path = "";

  /** Registers a child module under {@code name} and returns it. */
  protected <M extends Module> M child(String name, M module) {
    if (children.containsKey(name) || params.containsKey(name)) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " already has a member named '" + name + "'");
    }
    children.put(name, module);
    module.setPath(qualify(name));
    return module;
  }

  /** Declares a parameter; weight decay applies by default to rank >= 2 parameters. */
  protected Param param(String name, Init init, long... shape) {
    return param(name, init, shape.length >= 2, shape);
  }

  /** Declares a parameter with explicit weight-decay membership. */
  protected Param param(String name, Init init, boolean decay, long... shape) {
    if (children.containsKey(name) || params.containsKey(name)) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " already has a member named '" + name + "'");
    }
    Param p = new Param(qualify(name), shape, init, decay);
    params.put(name, p);
    return p;
  }

  void setPath(String newPath) {
    this.path = newPath;
    Map<String, Param> renamed = new LinkedHashMap<>();
    params.forEach((k, p) -> renamed.put(k, new Param(qualify(k), p.shape(), p.init(), p.decay())));
    params.clear();
    params.putAll(renamed);
    children.forEach((k, c) -> c.setPath(qualify(k)));
  }

  private String qualify(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  /** This module's path from the root ({@code blocks.3.attn}); empty for the root. */
  public String path() {
    return path;
  }

  /** The local parameter {@code name} (with its current full name). */
  protected Param p(String name) {
    Param p = params.get(name);
    if (p == null) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " at '" + path + "' has no parameter " + name);
    }
    return p;
  }

  /** All parameters of this module and its descendants, depth first in declaration order. */
  public List<Param> parameters() {
    List<Param> out = new ArrayList<>(params.values());
    for (Module c : children.values()) {
      out.addAll(c.parameters());
    }
    return out;
  }

  /** Total number of scalar parameters. */
  public long parameterCount() {
    return parameters().stream().mapToLong(Param::numel).sum();
  }

  /** Child modules by name. */
  public Map<String, Module> children() {
    return Collections.unmodifiableMap(children);
  }
}
