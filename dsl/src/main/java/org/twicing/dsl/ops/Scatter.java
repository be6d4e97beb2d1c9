package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** ScatterElements: writes (or adds) updates into a copy of data at per-element indices along one axis. */
final class Scatter {
  private Scatter() { }

  static final Attr<Long> AXIS = Attr.integer("axis");
  static final Attr<String> REDUCTION = Attr.string("reduction");

  static final OpDef SCATTER_ELEMENTS = new OpDef("ScatterElements") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 3) {
        throw call.fail("expects 3 inputs (data, indices, updates), got %d", call.count());
      }
      call.requireDType(1, DType.INT64, DType.INT32);
      call.requireSameDType(0, 2);
      int r = call.shape(0).rank();
      if (r == 0) {
        throw call.fail("data '%s' must have rank >= 1", call.input(0).name());
      }
      if (call.shape(1).rank() != r || !call.shape(1).equals(call.shape(2))) {
        throw call.fail("indices %s and updates %s must have one shape, of data's rank %d", call.shape(1),
            call.shape(2), r);
      }
      call.axis(call.attr(AXIS, 0L), r, "axis");
      String red = call.attr(REDUCTION, "none");
      if (!red.equals("none") && !red.equals("add")) {
        throw call.fail("reduction \"%s\" is not supported (none or add)", red);
      }
      return List.of(call.type(0));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor data = in.get(0);
      Tensor idx = in.get(1);
      Tensor upd = in.get(2);
      long ax = a.get(AXIS, 0L);
      int axis = (int) (ax < 0 ? ax + data.rank() : ax);
      boolean add = a.get(REDUCTION, "none").equals("add");
      double[] out = data.data().clone();
      long[] ds = Kernels.strides(data.shape());
      long[] is = idx.shape();
      long[] pos = new long[is.length];
      for (int i = 0; i < idx.size(); i++) {
        long rem = i;
        for (int k = is.length - 1; k >= 0; k--) {
          pos[k] = rem % is[k];
          rem /= is[k];
        }
        long j = (long) idx.get(i);
        long dim = data.shape()[axis];
        if (j < -dim || j >= dim) {
          throw new IllegalArgumentException("ScatterElements: index " + j + " is out of range for axis " + axis
              + " of size " + dim);
        }
        pos[axis] = j < 0 ? j + dim : j;
        long flat = 0;
        for (int k = 0; k < pos.length; k++) {
          flat += pos[k] * ds[k];
        }
        out[(int) flat] = add ? out[(int) flat] + upd.get(i) : upd.get(i);
      }
      return List.of(new Tensor(data.dtype(), data.shape(), out).roundedToDType());
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList(null, null, null);
      }
      boolean add = g.attr(REDUCTION, "none").equals("add");
      Value dData = null;
      if (g.needs(0)) {
        // With reduction "add" every data entry passes through; with "none" the overwritten ones get nothing.
        dData = add ? dy : scatterElements(dy, g.input(1), zerosLike(g.input(2)), g.attr(AXIS, 0L), "none");
      }
      Value dUpd = null;
      if (g.needs(2)) {
        if (g.input(0).rank() != 1) {
          throw new UnsupportedOperationException("ScatterElements gradient for updates (node " + g.node().name()
              + ") is implemented for rank-1 data only (it is a Gather there); got data " + g.input(0).shape());
        }
        dUpd = gather(dy, g.input(1), 0);
      }
      return Arrays.asList(dData, null, dUpd);
    }
  };
}
