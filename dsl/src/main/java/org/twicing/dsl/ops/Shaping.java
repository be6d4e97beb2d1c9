package org.twicing.dsl.ops;

import java.util.ArrayList;
import java.util.List;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.CoreOps;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;

/**
 * What the ops that move, select or describe data without arithmetic share: their attribute keys and the
 * build-time values of shape-describing inputs. The ops themselves live in {@link Views} (reshapes, transposes),
 * {@link Slicing} (concat, split, slice, gather), {@link Constants} (constants, shapes, casts) and
 * {@link Padding}.
 */
final class Shaping {
  private Shaping() { }

  static final Attr<long[]> PERM = Attr.ints("perm");
  static final Attr<Long> AXIS = Attr.integer("axis");
  static final Attr<Long> TO = Attr.integer("to");
  static final Attr<Long> START = Attr.integer("start");
  static final Attr<Long> END = Attr.integer("end");
  static final Attr<Long> UPPER = Attr.integer("upper");
  static final Attr<Tensor> VALUE = CoreOps.VALUE;

  /** The constant int64 values of input {@code i}, or null when not known at build time. */
  static long[] constInts(OpCall call, int i) {
    Value v = call.input(i);
    if (v == null) {
      return null;
    }
    if (v.constant() != null) {
      return v.constant().toLongs();
    }
    List<Dim> sv = v.shapeValue();
    if (sv != null && sv.stream().allMatch(Dim::isFixed)) {
      return sv.stream().mapToLong(Dim::size).toArray();
    }
    return null;
  }

  /** The dims input {@code i} describes, possibly symbolic, or null. */
  static List<Dim> dimsOf(OpCall call, int i) {
    Value v = call.input(i);
    if (v.shapeValue() != null) {
      return v.shapeValue();
    }
    long[] c = constInts(call, i);
    if (c == null) {
      return null;
    }
    List<Dim> out = new ArrayList<>();
    for (long x : c) {
      out.add(x < 0 ? null : Dim.of(x));
    }
    return out;
  }

  /** {@code v} limited to [lo, hi]. */
  static long clamp(long v, long lo, long hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  /** The single dim a rank-0 shape-describing value holds (as from Gather of a Shape), or null. */
  static List<Dim> scalarDims(Value v) {
    if (v.shapeValue() != null && v.shapeValue().size() == 1) {
      return v.shapeValue();
    }
    return null;
  }
}
