package org.twicing.dsl.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.twicing.dsl.eval.SpatialKernels;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;

/**
 * The sliding-window geometry shared by Conv, ConvTranspose, MaxPool and AveragePool: kernel, strides, explicit
 * pads (ONNX order: all begins, then all ends), dilations and the pools' ceil mode, with {@code auto_pad} resolved
 * to explicit pads.
 */
record Window(long[] kernel, long[] strides, long[] pads, long[] dilations, boolean ceil) {
  static final Attr<long[]> KERNEL_SHAPE = Attr.ints("kernel_shape");
  static final Attr<long[]> STRIDES = Attr.ints("strides");
  static final Attr<long[]> PADS = Attr.ints("pads");
  static final Attr<long[]> DILATIONS = Attr.ints("dilations");
  static final Attr<String> AUTO_PAD = Attr.string("auto_pad");
  static final Attr<Long> CEIL_MODE = Attr.integer("ceil_mode");

  /** Spatial rank. */
  int rank() {
    return kernel.length;
  }

  /**
   * The attributes (strides, pads, dilations) that describe this window explicitly, for the ConvTranspose/Conv a
   * gradient builds (which have no ceil mode: the caller sizes their output itself).
   */
  Attributes explicit(Attributes base) {
    return base.with(AUTO_PAD, null).with(CEIL_MODE, null).with(STRIDES, strides).with(PADS, pads)
        .with(DILATIONS, dilations);
  }

  /**
   * Reads the window from {@code a} for spatial input sizes {@code in} (-1 where unknown). With
   * {@code auto_pad=SAME_*} and an unknown size the pads stay unknown: {@code pads} is null then. Errors go through
   * {@code err}, which names the op and operands when called from a shape rule.
   */
  static Window of(Attributes a, long[] kernel, long[] in, Function<String, RuntimeException> err) {
    int n = kernel.length;
    long[] s = a.get(STRIDES, ones(n));
    long[] d = a.get(DILATIONS, ones(n));
    String auto = a.get(AUTO_PAD, "NOTSET");
    long[] p = a.get(PADS);
    if (s.length != n || d.length != n) {
      throw err.apply("strides " + Arrays.toString(s) + " and dilations " + Arrays.toString(d) + " must have one "
          + "entry per spatial axis (" + n + ")");
    }
    for (int i = 0; i < n; i++) {
      if (s[i] < 1 || d[i] < 1 || kernel[i] < 1) {
        throw err.apply("kernel " + Arrays.toString(kernel) + ", strides " + Arrays.toString(s)
            + " and dilations " + Arrays.toString(d) + " must be positive");
      }
    }
    long ceilMode = a.get(CEIL_MODE, 0L);
    if (ceilMode != 0 && ceilMode != 1) {
      throw err.apply("ceil_mode must be 0 or 1, got " + ceilMode);
    }
    boolean ceil = ceilMode == 1;
    if (!auto.equals("NOTSET") && a.has(PADS)) {
      throw err.apply("auto_pad " + auto + " and explicit pads cannot be combined");
    }
    switch (auto) {
      case "NOTSET" -> {
        p = p == null ? new long[2 * n] : p;
        if (p.length != 2 * n || Arrays.stream(p).anyMatch(v -> v < 0)) {
          throw err.apply("pads " + Arrays.toString(p) + " must be " + 2 * n + " non-negative entries (begins, then "
              + "ends)");
        }
      }
      case "VALID" -> p = new long[2 * n];
      case "SAME_UPPER", "SAME_LOWER" -> {
        p = new long[2 * n];
        for (int i = 0; i < n; i++) {
          if (in[i] < 0) {
            return new Window(kernel, s, null, d, ceil);
          }
          long out = (in[i] + s[i] - 1) / s[i];
          long total = Math.max(0, (out - 1) * s[i] + d[i] * (kernel[i] - 1) + 1 - in[i]);
          long small = total / 2;
          p[i] = auto.equals("SAME_UPPER") ? small : total - small;
          p[i + n] = total - p[i];
        }
      }
      default -> throw err.apply("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got \"" + auto + "\"");
    }
    return new Window(kernel, s, p, d, ceil);
  }

  /** The output spatial dims for input {@code x} of rank 2 + n, failing through {@code err} when a window is empty. */
  List<Dim> outDims(Shape x, String suffix, Function<String, RuntimeException> err) {
    List<Dim> out = new ArrayList<>();
    for (int i = 0; i < rank(); i++) {
      Dim in = x.dim(2 + i);
      if (!in.isFixed() || pads == null) {
        out.add(Dim.sym(in.term() + suffix));
        continue;
      }
      long o = SpatialKernels.outSize(in.size(), kernel[i], strides[i], pads[i], pads[i + rank()], dilations[i],
          ceil);
      if (ceil) {
        long span = in.size() + pads[i] + pads[i + rank()] - (dilations[i] * (kernel[i] - 1) + 1);
        if (span >= 0 && (span + strides[i] - 1) / strides[i] + 1 != o) {
          // ONNX's shape inference keeps such a window, ONNX Runtime and PyTorch drop it: refuse rather than pick.
          throw err.apply("with ceil_mode=1 the last window along spatial axis " + i + " would start in the end "
              + "padding (input " + in.size() + ", kernel " + kernel[i] + ", stride " + strides[i] + ", pads "
              + pads[i] + "/" + pads[i + rank()] + "), where ONNX and ONNX Runtime disagree on the output size");
        }
      }
      if (o <= 0) {
        throw err.apply("spatial size " + in.size() + " with kernel " + kernel[i] + ", stride " + strides[i]
            + ", dilation " + dilations[i] + ", pads " + pads[i] + "/" + pads[i + rank()] + " gives no output");
      }
      out.add(Dim.of(o));
    }
    return out;
  }

  /** The fixed spatial sizes of {@code x} (rank 2 + n), -1 where symbolic. */
  static long[] spatial(Shape x) {
    long[] in = new long[x.rank() - 2];
    for (int i = 0; i < in.length; i++) {
      in[i] = x.dim(2 + i).isFixed() ? x.dim(2 + i).size() : -1;
    }
    return in;
  }

  /** The spatial sizes of a concrete shape. */
  static long[] spatial(long[] shape) {
    return Arrays.copyOfRange(shape, 2, shape.length);
  }

  private static long[] ones(int n) {
    long[] o = new long[n];
    Arrays.fill(o, 1);
    return o;
  }
}
