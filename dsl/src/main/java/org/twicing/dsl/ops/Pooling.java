package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.eval.SpatialKernels;
import org.twicing.dsl.ir.Attr;
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

/** Pooling over the spatial axes of (N, C, spatial...) tensors: MaxPool, AveragePool, GlobalAveragePool. */
final class Pooling {
  private Pooling() { }

  static final Attr<Long> COUNT_INCLUDE_PAD = Attr.integer("count_include_pad");
  static final Attr<Long> STORAGE_ORDER = Attr.integer("storage_order");

  /** Checks X and reads the window from kernel_shape and the other window attributes. */
  private static Window window(OpCall call, boolean dilationsAllowed) {
    if (call.count() != 1) {
      throw call.fail("expects 1 input, got %d", call.count());
    }
    call.requireFloat(0);
    Shape x = call.shape(0);
    if (x.rank() < 3) {
      throw call.fail("X '%s' must have rank >= 3 (N, C, spatial...), got shape %s", call.input(0).name(), x);
    }
    long[] k = call.attr(Window.KERNEL_SHAPE);
    if (k == null || k.length != x.rank() - 2) {
      throw call.fail("kernel_shape %s must be given with one entry per spatial axis (%d)",
          k == null ? "(missing)" : Arrays.toString(k), x.rank() - 2);
    }
    if (!dilationsAllowed && call.attr(Window.DILATIONS) != null
        && Arrays.stream(call.attr(Window.DILATIONS)).anyMatch(d -> d != 1)) {
      throw call.fail("dilations %s are not supported (AveragePool has them only from opset 19)",
          Arrays.toString(call.attr(Window.DILATIONS)));
    }
    return Window.of(call.attributes(), k, Window.spatial(x), call::fail);
  }

  private static Window evalWindow(String op, Attributes a, long[] xShape) {
    return Window.of(a, a.get(Window.KERNEL_SHAPE), Window.spatial(xShape),
        m -> new IllegalArgumentException(op + ": " + m));
  }

  private static Window gradWindow(GradCall g) {
    Value x = g.input(0);
    long[] in = Window.spatial(x.shape());
    String op = g.node().op().onnxType();
    Window win = Window.of(g.node().attributes(), g.attr(Window.KERNEL_SHAPE, null), in,
        m -> new UnsupportedOperationException(op + ": " + m));
    if (win.pads() == null || Arrays.stream(in).anyMatch(v -> v < 0)) {
      throw new UnsupportedOperationException(op + " gradient (node " + g.node().name() + ") needs fixed spatial "
          + "sizes, got X" + x.shape());
    }
    return win;
  }

  /**
   * MaxPool with outputs (Y, Indices). Indices are ONNX's: flat row-major positions in X (storage_order 0), ties
   * resolved to the first maximum in window scan order (as ONNX Runtime). The gradient scatter-adds dY into a zero
   * X at those positions, so a tie gives the whole gradient to that first maximum and an element that is the
   * maximum of several overlapping windows collects all of their gradients.
   */
  static final OpDef MAX_POOL = new OpDef("MaxPool") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Window win = window(call, true);
      if (call.attr(STORAGE_ORDER, 0L) != 0) {
        throw call.fail("storage_order=1 (column-major Indices) is not supported");
      }
      Shape x = call.shape(0);
      List<Dim> out = new ArrayList<>(x.dims().subList(0, 2));
      out.addAll(win.outDims(x, "_pool", call::fail));
      Shape s = Shape.of(out);
      return List.of(new TensorType(call.dtype(0), s), new TensorType(DType.INT64, s));
    }

    @Override
    public int requiredOutputs(Attributes attributes) {
      return 1;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Window w = evalWindow("MaxPool", a, in.get(0).shape());
      return List.of(SpatialKernels.pool(in.get(0), SpatialKernels.Pool.MAX, w.kernel(), w.strides(), w.pads(),
          w.dilations(), false, w.ceil(), rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList((Value) null);
      }
      gradWindow(g);
      Value x = g.input(0);
      Value flat = reshape(zerosLike(x), -1);
      Value dx = scatterElements(flat, reshape(g.output(1), -1), reshape(dy, -1), 0, "add");
      return Arrays.asList(reshapeLike(dx, x));
    }
  };

  /** AveragePool (opset 17 form: no dilations), count_include_pad 0 or 1, floor or ceil mode. */
  static final OpDef AVERAGE_POOL = new OpDef("AveragePool") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Window win = window(call, false);
      Shape x = call.shape(0);
      List<Dim> out = new ArrayList<>(x.dims().subList(0, 2));
      out.addAll(win.outDims(x, "_pool", call::fail));
      return List.of(new TensorType(call.dtype(0), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Window w = evalWindow("AveragePool", a, in.get(0).shape());
      return List.of(SpatialKernels.pool(in.get(0), SpatialKernels.Pool.AVERAGE, w.kernel(), w.strides(),
          w.pads(), w.dilations(), a.get(COUNT_INCLUDE_PAD, 0L) != 0, w.ceil(), rounding)[0]);
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList((Value) null);
      }
      Window win = gradWindow(g);
      Value x = g.input(0);
      Dim c = x.shape().dim(1);
      if (!c.isFixed()) {
        throw new UnsupportedOperationException("AveragePool gradient (node " + g.node().name() + ") needs a fixed "
            + "channel count, got X" + x.shape());
      }
      // Each output spreads dY / divisor uniformly over its window: a depthwise ConvTranspose with a kernel of ones.
      long[] in = Window.spatial(x.shape());
      Tensor counts = SpatialKernels.windowCounts(in, win.kernel(), win.strides(), win.pads(), win.dilations(),
          g.attr(COUNT_INCLUDE_PAD, 0L) != 0, win.ceil(), dy.dtype());
      Value scaled = div(dy, constantLike(dy, counts));
      long[] wShape = new long[win.rank() + 2];
      wShape[0] = c.size();
      wShape[1] = 1;
      System.arraycopy(win.kernel(), 0, wShape, 2, win.rank());
      Value ones = constantLike(dy, Tensor.full(dy.dtype(), 1.0, wShape));
      // The ConvTranspose output, stride (out - 1) + output_padding + kernel - pad_begin - pad_end, must come back
      // to the input size: crop the end (a ceil-mode window can hang past it) or pad it (unread trailing input).
      int n = win.rank();
      long[] outPad = new long[n];
      long[] pads = win.pads().clone();
      for (int i = 0; i < n; i++) {
        long out = dy.shape().dim(2 + i).size();
        long over = win.strides()[i] * (out - 1) + win.kernel()[i] - win.pads()[i] - in[i];
        pads[i + n] = Math.max(over, 0);
        outPad[i] = Math.max(-over, 0);
      }
      Attributes at = new Window(win.kernel(), win.strides(), pads, win.dilations(), false)
          .explicit(Attributes.of(Convolution.GROUP, c.size())).with(Convolution.OUTPUT_PADDING, outPad);
      return Arrays.asList(x.graph().apply1(Convolution.CONV_TRANSPOSE, at, scaled, ones));
    }
  };

  /** GlobalAveragePool: the mean over all spatial axes, kept as size-1 axes. */
  static final OpDef GLOBAL_AVERAGE_POOL = new OpDef("GlobalAveragePool") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 1) {
        throw call.fail("expects 1 input, got %d", call.count());
      }
      call.requireFloat(0);
      Shape x = call.shape(0);
      if (x.rank() < 3) {
        throw call.fail("X '%s' must have rank >= 3 (N, C, spatial...), got shape %s", call.input(0).name(), x);
      }
      List<Dim> out = new ArrayList<>(x.dims().subList(0, 2));
      for (int i = 2; i < x.rank(); i++) {
        out.add(Dim.of(1));
      }
      return List.of(new TensorType(call.dtype(0), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      int[] axes = new int[x.rank() - 2];
      for (int i = 0; i < axes.length; i++) {
        axes[i] = i + 2;
      }
      return List.of(Kernels.reduce(x, axes, true, Kernels.Reduction.MEAN,
          rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList((Value) null);
      }
      Value x = g.input(0);
      long n = 1;
      for (int i = 2; i < x.rank(); i++) {
        if (!x.shape().dim(i).isFixed()) {
          throw new UnsupportedOperationException("GlobalAveragePool gradient (node " + g.node().name() + ") needs "
              + "fixed spatial sizes, got X" + x.shape());
        }
        n *= x.shape().dim(i).size();
      }
      return Arrays.asList(expandLike(mul(dy, scalarLike(dy, 1.0 / n)), x));
    }
  };
}
