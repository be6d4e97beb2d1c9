package org.twicing.dsl.nn;

import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;

/** A lookup table [num, dim] indexed by int64 ids. */
public final class Embedding extends Module {
  /** An embedding with the given initialiser. */
  public Embedding(long num, long dim, Init init) {
    param("weight", init, num, dim);
  }

  /** Rows of the table for {@code ids}. */
  public Value forward(Forward f, Value ids) {
    try (var s = f.scope(this)) {
      return Ops.gather(weight(f), ids, 0);
    }
  }

  /** The table itself (for tied output layers). */
  public Value weight(Forward f) {
    return f.param(p("weight"));
  }
}
