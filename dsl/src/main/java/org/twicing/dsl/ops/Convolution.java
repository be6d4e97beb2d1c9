package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.eval.SpatialKernels;
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

/**
 * Conv and ConvTranspose over any number of spatial axes (N, C, spatial...), with strides, pads or auto_pad,
 * dilations and groups. Each is the other's input gradient; the weight gradient of both is a Conv of the input with
 * the output gradient, batch and channels swapped.
 */
final class Convolution {
  private Convolution() { }

  static final Attr<Long> GROUP = Attr.integer("group");
  static final Attr<long[]> OUTPUT_PADDING = Attr.ints("output_padding");
  static final Attr<long[]> OUTPUT_SHAPE = Attr.ints("output_shape");

  private static boolean sameDim(Dim a, Dim b) {
    return a.equals(b) || !a.isFixed() || !b.isFixed();
  }

  /** Checks X, W and the optional bias shared by Conv and ConvTranspose; returns the window. */
  private static Window checkOperands(OpCall call, boolean transpose) {
    if (call.count() < 2 || call.count() > 3) {
      throw call.fail("expects 2 or 3 inputs (X, W, optional B), got %d", call.count());
    }
    call.requireFloat(0);
    call.requireSameDType(0, 1);
    Shape x = call.shape(0);
    Shape w = call.shape(1);
    if (x.rank() < 3) {
      throw call.fail("X '%s' must have rank >= 3 (N, C, spatial...), got shape %s", call.input(0).name(), x);
    }
    if (w.rank() != x.rank()) {
      throw call.fail("W '%s' %s must have the rank of X %s", call.input(1).name(), w, x);
    }
    long group = call.attr(GROUP, 1L);
    if (group < 1) {
      throw call.fail("group must be >= 1, got %d", group);
    }
    Dim c = x.dim(1);
    if (transpose) {
      if (!sameDim(c, w.dim(0))) {
        throw call.fail("input channels differ: X%s has %s channels, W%s expects %s", x, c, w, w.dim(0));
      }
    } else {
      Dim expect = w.dim(1).isFixed() ? Dim.of(w.dim(1).size() * group) : w.dim(1);
      if (!sameDim(c, expect)) {
        throw call.fail("input channels differ: X%s has %s channels, W%s with group=%d expects %s", x, c, w, group,
            expect);
      }
      if (w.dim(0).isFixed() && w.dim(0).size() % group != 0) {
        throw call.fail("W%s has %s output channels, not divisible by group=%d", w, w.dim(0), group);
      }
    }
    if (c.isFixed() && c.size() % group != 0) {
      throw call.fail("X%s has %s channels, not divisible by group=%d", x, c, group);
    }
    long[] k = new long[x.rank() - 2];
    for (int i = 0; i < k.length; i++) {
      if (!w.dim(2 + i).isFixed()) {
        throw call.fail("kernel dims of W%s must be fixed", w);
      }
      k[i] = w.dim(2 + i).size();
    }
    long[] kAttr = call.attr(Window.KERNEL_SHAPE);
    if (kAttr != null && !Arrays.equals(kAttr, k)) {
      throw call.fail("kernel_shape %s does not match W%s", Arrays.toString(kAttr), w);
    }
    if (call.count() == 3 && call.input(2) != null) {
      call.requireSameDType(0, 2);
      call.requireRank(2, 1);
      Dim m = transpose ? (w.dim(1).isFixed() ? Dim.of(w.dim(1).size() * group) : w.dim(1)) : w.dim(0);
      if (!sameDim(call.shape(2).dim(0), m)) {
        throw call.fail("bias %s must have one entry per output channel (%s)", call.shape(2), m);
      }
    }
    return Window.of(call.attributes(), k, Window.spatial(x), call::fail);
  }

  private static long[] kernelOf(long[] wShape) {
    return Arrays.copyOfRange(wShape, 2, wShape.length);
  }

  private static RuntimeException evalError(String op, String msg) {
    return new IllegalArgumentException(op + ": " + msg);
  }

  static final OpDef CONV = new OpDef("Conv") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Window win = checkOperands(call, false);
      Shape x = call.shape(0);
      List<Dim> out = new ArrayList<>(List.of(x.dim(0), call.shape(1).dim(0)));
      out.addAll(win.outDims(x, "_conv", call::fail));
      return List.of(new TensorType(call.dtype(0), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      Tensor w = in.get(1);
      Window win = Window.of(a, kernelOf(w.shape()), Window.spatial(x.shape()), m -> evalError("Conv", m));
      return List.of(SpatialKernels.conv(x, w, in.size() > 2 ? in.get(2) : null, win.strides(), win.pads(),
          win.dilations(), (int) (long) a.get(GROUP, 1L), rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList(null, null, null);
      }
      Value x = g.input(0);
      Value w = g.input(1);
      Window win = fixedWindow(g, x, w);
      long group = g.attr(GROUP, 1L);
      Value db = g.input(2) != null && g.needs(2) ? reduceSum(dy, false, spatialAndBatchAxes(dy.rank())) : null;
      if (group == 1 && isPatchify(x, w, win)) {
        return patchGradient(g, dy, x, w, win, db);
      }
      Value dx = null;
      if (g.needs(0)) {
        long[] outPad = new long[win.rank()];
        for (int i = 0; i < win.rank(); i++) {
          long in = x.shape().dim(2 + i).size();
          outPad[i] = (in + win.pads()[i] + win.pads()[i + win.rank()] - win.dilations()[i] * (win.kernel()[i] - 1)
              - 1) % win.strides()[i];
        }
        Attributes at = win.explicit(Attributes.of(GROUP, group)).with(OUTPUT_PADDING, outPad);
        dx = x.graph().apply1(CONV_TRANSPOSE, at, dy, w);
      }
      Value dw = g.needs(1) ? weightGradient(x, dy, win, group) : null;
      return Arrays.asList(dx, dw, db);
    }
  };

  /** ConvTranspose (the adjoint of Conv); {@code output_shape} is not supported, {@code output_padding} is. */
  static final OpDef CONV_TRANSPOSE = new OpDef("ConvTranspose") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Window win = checkOperands(call, true);
      if (call.attr(OUTPUT_SHAPE) != null) {
        throw call.fail("output_shape is not supported; give pads and output_padding instead");
      }
      if (win.pads() == null || !"NOTSET".equals(call.attr(Window.AUTO_PAD, "NOTSET"))
          && !"VALID".equals(call.attr(Window.AUTO_PAD, "NOTSET"))) {
        throw call.fail("auto_pad %s is not supported for ConvTranspose; give explicit pads",
            call.attr(Window.AUTO_PAD, "NOTSET"));
      }
      long[] op = call.attr(OUTPUT_PADDING, new long[win.rank()]);
      if (op.length != win.rank()) {
        throw call.fail("output_padding %s must have one entry per spatial axis (%d)", Arrays.toString(op),
            win.rank());
      }
      for (int i = 0; i < op.length; i++) {
        if (op[i] < 0 || op[i] >= Math.max(win.strides()[i], win.dilations()[i])) {
          throw call.fail("output_padding %s must lie in [0, max(stride, dilation)) per axis", Arrays.toString(op));
        }
      }
      Shape x = call.shape(0);
      Shape w = call.shape(1);
      long group = call.attr(GROUP, 1L);
      Dim m = w.dim(1).isFixed() ? Dim.of(w.dim(1).size() * group) : w.dim(1);
      List<Dim> out = new ArrayList<>(List.of(x.dim(0), m));
      for (int i = 0; i < win.rank(); i++) {
        Dim in = x.dim(2 + i);
        if (!in.isFixed()) {
          out.add(Dim.sym(in.term() + "_convT"));
          continue;
        }
        long o = win.strides()[i] * (in.size() - 1) + op[i] + win.dilations()[i] * (win.kernel()[i] - 1) + 1
            - win.pads()[i] - win.pads()[i + win.rank()];
        if (o <= 0) {
          throw call.fail("spatial size %d with kernel %d, stride %d and pads %d/%d gives no output", in.size(),
              win.kernel()[i], win.strides()[i], win.pads()[i], win.pads()[i + win.rank()]);
        }
        out.add(Dim.of(o));
      }
      return List.of(new TensorType(call.dtype(0), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      Tensor w = in.get(1);
      Window win = Window.of(a, kernelOf(w.shape()), Window.spatial(x.shape()), m -> evalError("ConvTranspose", m));
      return List.of(SpatialKernels.convTranspose(x, w, in.size() > 2 ? in.get(2) : null, win.strides(),
          win.pads(), win.dilations(), a.get(OUTPUT_PADDING, new long[win.rank()]), (int) (long) a.get(GROUP, 1L),
          rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dz = g.grad(0);
      if (dz == null) {
        return Arrays.asList(null, null, null);
      }
      Value x = g.input(0);
      Value w = g.input(1);
      Window win = fixedWindow(g, x, w);
      long group = g.attr(GROUP, 1L);
      Value dx = g.needs(0)
          ? x.graph().apply1(CONV, win.explicit(Attributes.of(GROUP, group)), dz, w) : null;
      // ConvTranspose is Conv's adjoint with the roles of its input and output exchanged, so its weight gradient
      // is Conv's weight gradient with dz as the "input" and x as the "output gradient".
      Value dw = g.needs(1) ? weightGradient(dz, x, win, group) : null;
      Value db = g.input(2) != null && g.needs(2) ? reduceSum(dz, false, spatialAndBatchAxes(dz.rank())) : null;
      return Arrays.asList(dx, dw, db);
    }
  };

  /** The window of a node being differentiated, which needs fixed spatial sizes when auto_pad is SAME_*. */
  private static Window fixedWindow(GradCall g, Value x, Value w) {
    long[] k = new long[w.rank() - 2];
    for (int i = 0; i < k.length; i++) {
      k[i] = w.shape().dim(2 + i).size();
    }
    long[] in = Window.spatial(x.shape());
    String op = g.node().op().onnxType();
    Window win = Window.of(g.node().attributes(), k, in, m -> new UnsupportedOperationException(op + ": " + m));
    if (win.pads() == null || Arrays.stream(in).anyMatch(v -> v < 0)) {
      throw new UnsupportedOperationException(op + " gradient (node " + g.node().name() + ") needs fixed spatial "
          + "sizes, got X" + x.shape());
    }
    return win;
  }

  private static long[] spatialAndBatchAxes(int rank) {
    long[] axes = new long[rank - 1];
    axes[0] = 0;
    for (int i = 2; i < rank; i++) {
      axes[i - 1] = i;
    }
    return axes;
  }

  /**
   * dW of Y = Conv(X, W): dW[m, c, k] = sum_{n, o} dY[n, m, o] X[n, g c', o s - p + k d], i.e. a Conv of X with
   * batch and channels swapped ([C, N, ...]) by dY likewise swapped ([M, N, ...]) as the kernel, with stride and
   * dilation exchanged; with groups the batch is folded into group-major channels. The result can exceed the
   * kernel by up to stride - 1 per axis (positions the forward pass never read), which is sliced off.
   */
  private static Value weightGradient(Value x, Value dy, Window win, long group) {
    int sp = win.rank();
    int[] swap = new int[sp + 2];
    swap[0] = 1;
    swap[1] = 0;
    for (int i = 2; i < swap.length; i++) {
      swap[i] = i;
    }
    Value xt;
    if (group == 1) {
      xt = transpose(x, swap);
    } else {
      long c = x.shape().dim(1).size();
      long cg = c / group;
      long[] split = new long[sp + 3];
      split[0] = 0;
      split[1] = group;
      split[2] = cg;
      long[] folded = new long[sp + 2];
      folded[0] = cg;
      folded[1] = -1;
      for (int i = 0; i < sp; i++) {
        split[3 + i] = x.shape().dim(2 + i).size();
        folded[2 + i] = x.shape().dim(2 + i).size();
      }
      int[] perm = new int[sp + 3];
      perm[0] = 2;
      perm[1] = 1;
      perm[2] = 0;
      for (int i = 0; i < sp; i++) {
        perm[3 + i] = 3 + i;
      }
      // [N, C, ...] -> [N, g, C/g, ...] -> [C/g, g, N, ...] -> [C/g, g*N, ...]: channel gi*N + n of group gi.
      xt = reshape(transpose(reshape(x, split), perm), folded);
    }
    Value dyt = transpose(dy, swap);
    Attributes at = Attributes.of(GROUP, group).with(Window.STRIDES, win.dilations())
        .with(Window.DILATIONS, win.strides()).with(Window.PADS, win.pads());
    Value r = x.graph().apply1(CONV, at, xt, dyt);
    boolean larger = false;
    long[] starts = new long[sp];
    long[] ends = new long[sp];
    long[] axes = new long[sp];
    long[] steps = new long[sp];
    for (int i = 0; i < sp; i++) {
      ends[i] = win.kernel()[i];
      axes[i] = 2 + i;
      steps[i] = 1;
      larger |= r.shape().dim(2 + i).size() != win.kernel()[i];
    }
    if (larger) {
      r = slice(r, starts, ends, axes, steps);
    }
    return transpose(r, swap);
  }

  /** Whether the conv is a patch embedding: stride == kernel, no pads or dilation, sizes divisible (2-D). */
  private static boolean isPatchify(Value x, Value w, Window win) {
    if (win.rank() != 2) {
      return false;
    }
    for (int i = 0; i < 2; i++) {
      Dim in = x.shape().dim(2 + i);
      if (win.strides()[i] != win.kernel()[i] || win.dilations()[i] != 1 || win.pads()[i] != 0
          || win.pads()[i + 2] != 0 || !in.isFixed() || in.size() % win.kernel()[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Non-overlapping patches make the convolution a GEMM between patch rows and the flattened kernel: the gradient
   * stays MatMul/Transpose/Reshape, which every consumer runs (and works with a symbolic batch).
   */
  private static List<Value> patchGradient(GradCall g, Value dy, Value x, Value w, Window win, Value db) {
    long kh = win.kernel()[0];
    long kw = win.kernel()[1];
    long c = x.shape().dim(1).size();
    long hp = x.shape().dim(2).size() / kh;
    long wp = x.shape().dim(3).size() / kw;
    long m = w.shape().dim(0).size();
    Value dy2 = reshape(transpose(dy, 0, 2, 3, 1), -1, m);
    Value dx = null;
    Value dw = null;
    if (g.needs(0)) {
      Value cols = matmul(dy2, reshape(w, m, c * kh * kw));
      Value six = reshape(cols, -1, hp, wp, c, kh, kw);
      dx = reshape(transpose(six, 0, 3, 1, 4, 2, 5), -1, c, hp * kh, wp * kw);
    }
    if (g.needs(1)) {
      Value patches = reshape(transpose(reshape(x, -1, c, hp, kh, wp, kw), 0, 2, 4, 1, 3, 5), -1, c * kh * kw);
      dw = reshape(matmul(transpose(dy2, 1, 0), patches), m, c, kh, kw);
    }
    return Arrays.asList(dx, dw, db);
  }
}
