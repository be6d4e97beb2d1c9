package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * ScatterElements and GatherElements, each other's gradient: per-element indices along one axis write (or add)
 * updates into a copy of data, or read data.
 */
final class Scatter {
  private Scatter() { }

  static final Attr<Long> AXIS = Attr.integer("axis");
  static final Attr<String> REDUCTION = Attr.string("reduction");

  /**
   * For each element of {@code indices} (shape {@code is}), the flat position in a tensor of shape {@code ds} it
   * addresses: its own coordinates with the one along {@code axis} replaced by the index (negative from the end).
   */
  private static int[] positions(Tensor indices, long[] ds, int axis, String op) {
    long[] is = indices.shape();
    long[] st = Kernels.strides(ds);
    long[] pos = new long[is.length];
    int[] out = new int[indices.size()];
    for (int i = 0; i < out.length; i++) {
      long rem = i;
      for (int k = is.length - 1; k >= 0; k--) {
        pos[k] = rem % is[k];
        rem /= is[k];
      }
      long j = (long) indices.get(i);
      long dim = ds[axis];
      if (j < -dim || j >= dim) {
        throw new IllegalArgumentException(op + ": index " + j + " is out of range for axis " + axis + " of size "
            + dim);
      }
      pos[axis] = j < 0 ? j + dim : j;
      long flat = 0;
      for (int k = 0; k < pos.length; k++) {
        if (pos[k] >= ds[k]) {
          throw new IllegalArgumentException(op + ": indices " + Arrays.toString(is) + " reach past data "
              + Arrays.toString(ds) + " on axis " + k);
        }
        flat += pos[k] * st[k];
      }
      out[i] = (int) flat;
    }
    return out;
  }

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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor data = in.get(0);
      Tensor upd = in.get(2);
      long ax = a.get(AXIS, 0L);
      int axis = (int) (ax < 0 ? ax + data.rank() : ax);
      boolean add = a.get(REDUCTION, "none").equals("add");
      Tensor.Builder out = Tensor.builder(data.dtype(), data.shape()).copyFrom(data, 0, 0, data.size());
      int[] at = positions(in.get(1), data.shape(), axis, "ScatterElements");
      for (int i = 0; i < at.length; i++) {
        out.set(at[i], add ? out.get(at[i]) + upd.get(i) : upd.get(i));
      }
      return List.of(out.build(rounding));
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
      Value dUpd = g.needs(2) ? gatherElements(dy, g.input(1), g.attr(AXIS, 0L)) : null;
      return Arrays.asList(dData, null, dUpd);
    }
  };

  /** GatherElements(data, indices): out[p] = data[p with its axis coordinate replaced by indices[p]]. */
  static final OpDef GATHER_ELEMENTS = new OpDef("GatherElements") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 2) {
        throw call.fail("expects 2 inputs (data, indices), got %d", call.count());
      }
      call.requireDType(1, DType.INT64, DType.INT32);
      int r = call.shape(0).rank();
      if (r == 0 || call.shape(1).rank() != r) {
        throw call.fail("data %s and indices %s must have one rank >= 1", call.shape(0), call.shape(1));
      }
      int axis = call.axis(call.attr(AXIS, 0L), r, "axis");
      for (int k = 0; k < r; k++) {
        var d = call.shape(0).dim(k);
        var i = call.shape(1).dim(k);
        if (k != axis && d.isFixed() && i.isFixed() && i.size() > d.size()) {
          throw call.fail("indices %s exceed data %s on axis %d", call.shape(1), call.shape(0), k);
        }
      }
      return List.of(call.type(0).withShape(call.shape(1)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor data = in.get(0);
      long ax = a.get(AXIS, 0L);
      int axis = (int) (ax < 0 ? ax + data.rank() : ax);
      int[] at = positions(in.get(1), data.shape(), axis, "GatherElements");
      return List.of(Tensor.build(data.dtype(), in.get(1).shape(), i -> data.get(at[i])));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null || !g.needs(0)) {
        return Arrays.asList(null, null);
      }
      // Every read adds its gradient to the element it read (repeated indices accumulate).
      return Arrays.asList(scatterElements(zerosLike(g.input(0)), g.input(1), dy, g.attr(AXIS, 0L), "add"), null);
    }
  };
}
