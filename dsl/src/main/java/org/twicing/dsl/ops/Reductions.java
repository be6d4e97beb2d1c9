package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.eval.Kernels.Reduction;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;

import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Reductions (sum, mean, max) and the softmax family. */
final class Reductions {
  private Reductions() { }

  static final Attr<long[]> AXES = Attr.ints("axes");
  static final Attr<Long> KEEPDIMS = Attr.integer("keepdims");
  static final Attr<Long> AXIS = Attr.integer("axis");

  /**
   * A reduction. In opset 17 ReduceSum takes its axes as an int64 input and ReduceMean/ReduceMax as an attribute;
   * {@code axesAsInput} records which, and emission for newer opsets moves attribute axes to an input.
   */
  static final class Reduce extends OpDef {
    private final Reduction kind;
    private final boolean axesAsInput;

    Reduce(String onnxType, Reduction kind, boolean axesAsInput) {
      super(onnxType);
      this.kind = kind;
      this.axesAsInput = axesAsInput;
    }

    boolean axesAsInput() {
      return axesAsInput;
    }

    @Override
    public List<Attr<long[]>> attributesAsInputs(int opset) {
      // Opset 18 moved ReduceMean/ReduceMax axes from an attribute to an input (ReduceSum's already was one).
      return !axesAsInput && opset >= 18 ? List.of(AXES) : List.of();
    }

    private int[] axes(int rank, long[] raw, OpCall call) {
      if (raw == null || raw.length == 0) {
        int[] all = new int[rank];
        for (int i = 0; i < rank; i++) {
          all[i] = i;
        }
        return all;
      }
      int[] out = new int[raw.length];
      for (int i = 0; i < raw.length; i++) {
        if (call != null) {
          out[i] = call.axis(raw[i], rank, "axes entry");
        } else {
          out[i] = (int) (raw[i] < 0 ? raw[i] + rank : raw[i]);
        }
      }
      Arrays.sort(out);
      return out;
    }

    private long[] rawAxes(OpCall call) {
      if (axesAsInput) {
        if (call.count() < 2) {
          return null;
        }
        long[] a = Shaping.constInts(call, 1);
        if (a == null) {
          throw call.fail("axes must be a constant int64 input");
        }
        return a;
      }
      return call.attr(AXES);
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (!call.dtype(0).isNumeric()) {
        throw call.fail("input '%s' has dtype %s, expected numeric", call.input(0).name(), call.dtype(0));
      }
      Shape s = call.shape(0);
      int[] axes = axes(s.rank(), rawAxes(call), call);
      boolean keep = call.attr(KEEPDIMS, 1L) != 0;
      List<Dim> out = new ArrayList<>();
      for (int i = 0; i < s.rank(); i++) {
        boolean red = Arrays.binarySearch(axes, i) >= 0;
        if (!red) {
          out.add(s.dim(i));
        } else if (keep) {
          out.add(Dim.of(1));
        }
      }
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      long[] raw = axesAsInput ? (in.size() > 1 && in.get(1) != null ? in.get(1).toLongs() : null) : a.get(AXES);
      return List.of(Kernels.reduce(x, axes(x.rank(), raw, null), a.get(KEEPDIMS, 1L) != 0, kind, rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      List<Value> out = new ArrayList<>(Arrays.asList(new Value[g.node().inputs().size()]));
      if (dy == null) {
        return out;
      }
      Value x = g.input(0);
      long[] raw = axesAsInput ? (g.input(1) == null ? null : g.input(1).constant().toLongs()) : g.attr(AXES, null);
      int[] axes = axes(x.rank(), raw, null);
      Value dk = dy;
      if (g.attr(KEEPDIMS, 1L) == 0 && axes.length > 0) {
        dk = unsqueeze(dy, Arrays.stream(axes).asLongStream().toArray());
      }
      Value full = expandLike(dk, x);
      switch (kind) {
        case SUM -> out.set(0, full);
        case MEAN -> {
          Dim count = Dim.of(1);
          for (int ax : axes) {
            count = count.times(x.shape().dim(ax));
          }
          Value n = count.isFixed() ? scalarLike(x, count.size())
              : cast(reduceProd(shapeOf(x), axes), x.dtype());
          out.set(0, div(full, n));
        }
        case MAX -> {
          // Ties share the gradient equally, as the subgradient of max.
          Value y = g.node().attributes().get(KEEPDIMS, 1L) == 0 && axes.length > 0
              ? unsqueeze(g.output(0), Arrays.stream(axes).asLongStream().toArray()) : g.output(0);
          Value hit = cast(equal(x, y), x.dtype());
          Value ties = reduceSum(hit, true, Arrays.stream(axes).asLongStream().toArray());
          out.set(0, div(mul(full, hit), ties));
        }
        default -> throw new IllegalStateException();
      }
      return out;
    }
  }

  static final OpDef REDUCE_SUM = new Reduce("ReduceSum", Reduction.SUM, true);
  static final OpDef REDUCE_MEAN = new Reduce("ReduceMean", Reduction.MEAN, false);
  static final OpDef REDUCE_MAX = new Reduce("ReduceMax", Reduction.MAX, false);

  /** Product of the entries of a 1-D int64 value at the given positions (for symbolic mean counts). */
  private static Value reduceProd(Value shape, int[] axes) {
    Value acc = null;
    for (int ax : axes) {
      Value d = gather(shape, constantLike(shape, Tensor.longs(ax)), 0);
      acc = acc == null ? d : mul(acc, d);
    }
    return reshape(acc, new long[0]);
  }

  /** Softmax or LogSoftmax along one axis. */
  static final class SoftmaxOp extends OpDef {
    private final boolean log;

    SoftmaxOp(String onnxType, boolean log) {
      super(onnxType);
      this.log = log;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      call.requireFloat(0);
      call.axis(call.attr(AXIS, -1L), call.shape(0).rank(), "axis");
      return List.of(call.type(0));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      long ax = a.get(AXIS, -1L);
      Tensor x = in.get(0);
      return List.of(Kernels.softmax(x, (int) (ax < 0 ? ax + x.rank() : ax), log, rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList((Value) null);
      }
      long axis = g.attr(AXIS, -1L);
      Value y = g.output(0);
      if (log) {
        // d x = dy - softmax(x) * sum(dy)
        return Arrays.asList(sub(dy, mul(exp(y), reduceSum(dy, true, axis))));
      }
      // d x = y * (dy - sum(dy * y))
      return Arrays.asList(mul(y, sub(dy, reduceSum(mul(dy, y), true, axis))));
    }
  }

  static final OpDef SOFTMAX = new SoftmaxOp("Softmax", false);
  static final OpDef LOG_SOFTMAX = new SoftmaxOp("LogSoftmax", true);

}
