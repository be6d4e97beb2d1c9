package org.twicing.dsl.ops;

import java.util.ArrayList;
import java.util.List;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;

/** Numpy broadcasting over symbolic shapes. */
final class Broadcast {
  private Broadcast() { }

  /** The broadcast shape of all inputs of {@code call}, or a pointed error naming the clashing dims. */
  static Shape shapes(OpCall call, List<Shape> shapes) {
    int rank = 0;
    for (Shape s : shapes) {
      rank = Math.max(rank, s.rank());
    }
    List<Dim> out = new ArrayList<>();
    for (int o = 0; o < rank; o++) {
      Dim acc = Dim.of(1);
      for (Shape s : shapes) {
        int i = o - (rank - s.rank());
        if (i < 0) {
          continue;
        }
        Dim d = s.dim(i);
        if (d.is(1) || d.equals(acc)) {
          continue;
        }
        if (acc.is(1)) {
          acc = d;
        } else if (acc.isFixed() && d.isFixed()) {
          throw call.fail("shapes do not broadcast: dimension %d is %s in one operand and %s in another "
              + "(numpy rules: sizes must match or one must be 1)", o - rank, acc, d);
        } else if (!d.isFixed() && !acc.isFixed()) {
          throw call.fail("shapes do not broadcast: symbolic dimensions '%s' and '%s' at axis %d are not known "
              + "to be equal", acc, d, o - rank);
        } else if (!acc.isFixed()) {
          acc = d;
        }
      }
      out.add(acc);
    }
    return Shape.of(out);
  }
}
