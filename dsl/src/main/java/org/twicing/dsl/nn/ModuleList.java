package org.twicing.dsl.nn;

/** A container whose children are named 0, 1, 2, ... (PyTorch's ModuleList), or by name (a plain namespace). */
public final class ModuleList extends Module {
  private int size;

  /** Appends {@code m} under the next index and returns it. */
  public <M extends Module> M add(M m) {
    return child(Integer.toString(size++), m);
  }

  /** Adds {@code m} under {@code name} and returns it (for namespaces such as nanoGPT's {@code transformer}). */
  public <M extends Module> M put(String name, M m) {
    return child(name, m);
  }
}
