package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Constant-mode padding (and cropping by negative pads): the Pad op. */
final class Padding {
  private Padding() { }

  /** Constant-mode Pad with constant pads [begin_0, ..., begin_r-1, end_0, ..., end_r-1] (negative pads crop). */
  static final OpDef PAD = new OpDef("Pad") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 2 || call.count() > 3) {
        throw call.fail("expects data, pads and an optional constant value, got %d inputs", call.count());
      }
      call.requireDType(1, DType.INT64);
      Shape s = call.shape(0);
      long[] pads = Shaping.constInts(call, 1);
      if (pads == null) {
        throw call.fail("pads must be a constant int64 input");
      }
      if (pads.length != 2 * s.rank()) {
        throw call.fail("pads has %d entries, expected 2 x rank = %d", pads.length, 2 * s.rank());
      }
      if (call.count() == 3) {
        call.requireSameDType(0, 2);
        call.requireRank(2, 0);
      }
      List<Dim> out = new ArrayList<>();
      for (int i = 0; i < s.rank(); i++) {
        long add = pads[i] + pads[i + s.rank()];
        Dim d = s.dim(i);
        if (add == 0) {
          out.add(d);
        } else if (!d.isFixed()) {
          throw call.fail("cannot pad symbolic axis %d (%s) by %d", i, d, add);
        } else if (d.size() + add < 0) {
          throw call.fail("pads %s crop axis %d of size %d below zero", Arrays.toString(pads), i, d.size());
        } else {
          out.add(Dim.of(d.size() + add));
        }
      }
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      long[] pads = in.get(1).toLongs();
      double fill = in.size() > 2 && in.get(2) != null ? in.get(2).get(0) : 0;
      int r = x.rank();
      long[] shape = new long[r];
      for (int i = 0; i < r; i++) {
        shape[i] = x.dim(i) + pads[i] + pads[i + r];
      }
      Tensor.Builder d = Tensor.builder(x.dtype(), shape);
      long[] xs = Kernels.strides(x.shape());
      long[] idx = new long[r];
      for (int i = 0; i < d.size(); i++) {
        long src = 0;
        boolean inside = true;
        for (int k = 0; k < r; k++) {
          long j = idx[k] - pads[k];
          if (j < 0 || j >= x.dim(k)) {
            inside = false;
            break;
          }
          src += j * xs[k];
        }
        d.set(i, inside ? x.get((int) src) : fill);
        for (int k = r - 1; k >= 0; k--) {
          if (++idx[k] < shape[k]) {
            break;
          }
          idx[k] = 0;
        }
      }
      return List.of(d.build());
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null || !g.needs(0)) {
        return Arrays.asList(new Value[g.node().inputs().size()]);
      }
      long[] pads = g.input(1).constant().toLongs();
      // Padding by -pads undoes padding by pads: it crops what was added and zero-fills what was cropped.
      Value dx = pad(dy, Arrays.stream(pads).map(p -> -p).toArray());
      List<Value> out = Arrays.asList(new Value[g.node().inputs().size()]);
      out.set(0, dx);
      return out;
    }
  };
}
