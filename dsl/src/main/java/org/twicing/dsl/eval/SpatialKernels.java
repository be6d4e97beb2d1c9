package org.twicing.dsl.eval;

import java.util.Arrays;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;

/**
 * Plain-Java float64 kernels for ops that slide a window over the spatial axes of an N-C-spatial... tensor
 * (any number of spatial axes): convolution, transposed convolution and pooling. Pads are ONNX-ordered: all begins,
 * then all ends.
 */
public final class SpatialKernels {
  private SpatialKernels() { }

  /** Output spatial size along one axis for a window (floor mode). */
  public static long outSize(long in, long kernel, long stride, long padBegin, long padEnd, long dilation) {
    return outSize(in, kernel, stride, padBegin, padEnd, dilation, false);
  }

  /**
   * Output spatial size along one axis; in ceil mode a last, partial window counts unless it would start past the
   * input and its leading pad (the rule of PyTorch and ONNX Runtime).
   */
  public static long outSize(long in, long kernel, long stride, long padBegin, long padEnd, long dilation,
      boolean ceil) {
    long span = in + padBegin + padEnd - (dilation * (kernel - 1) + 1);
    if (!ceil || span < 0) {
      return Math.floorDiv(span, stride) + 1;
    }
    long out = (span + stride - 1) / stride + 1;
    if ((out - 1) * stride >= in + padBegin) {
      out--;
    }
    return out;
  }

  /** Number of elements of a spatial extent. */
  private static int count(long[] dims) {
    return Math.toIntExact(Tensor.numel(dims));
  }

  /** Unflattens a row-major index over {@code dims} into {@code idx}. */
  private static void unflatten(int flat, long[] dims, long[] idx) {
    for (int k = dims.length - 1; k >= 0; k--) {
      idx[k] = flat % dims[k];
      flat /= dims[k];
    }
  }

  /** The flat row-major index of {@code pos} in {@code dims}, or -1 when {@code pos} lies outside. */
  private static int flatten(long[] pos, long[] dims) {
    long f = 0;
    for (int k = 0; k < dims.length; k++) {
      if (pos[k] < 0 || pos[k] >= dims[k]) {
        return -1;
      }
      f = f * dims[k] + pos[k];
    }
    return (int) f;
  }

  /**
   * ONNX Conv: {@code x} [N, C, in...], {@code w} [M, C/group, k...], optional {@code bias} [M]; output
   * [N, M, out...], rounded to the dtype under {@code rounding}.
   */
  public static Tensor conv(Tensor x, Tensor w, Tensor bias, long[] strides, long[] pads, long[] dilations,
      int group, Rounding rounding) {
    long[] xs = x.shape();
    long[] ws = w.shape();
    int sp = xs.length - 2;
    int n = (int) xs[0];
    int c = (int) xs[1];
    int m = (int) ws[0];
    int cg = c / group;
    int mg = m / group;
    long[] in = Arrays.copyOfRange(xs, 2, xs.length);
    long[] k = Arrays.copyOfRange(ws, 2, ws.length);
    long[] out = new long[sp];
    for (int i = 0; i < sp; i++) {
      out[i] = outSize(in[i], k[i], strides[i], pads[i], pads[i + sp], dilations[i]);
    }
    int inN = count(in);
    int outN = count(out);
    int kN = count(k);
    Tensor.Builder y = Tensor.builder(x.dtype(), outShape(n, m, out));
    long[] o = new long[sp];
    long[] kk = new long[sp];
    long[] pos = new long[sp];
    for (int op = 0; op < outN; op++) {
      unflatten(op, out, o);
      for (int kp = 0; kp < kN; kp++) {
        unflatten(kp, k, kk);
        for (int a = 0; a < sp; a++) {
          pos[a] = o[a] * strides[a] - pads[a] + kk[a] * dilations[a];
        }
        int ip = flatten(pos, in);
        if (ip < 0) {
          continue;
        }
        for (int b = 0; b < n; b++) {
          for (int oc = 0; oc < m; oc++) {
            int gi = oc / mg;
            double acc = 0;
            for (int ci = 0; ci < cg; ci++) {
              acc += x.get((b * c + gi * cg + ci) * inN + ip) * w.get((oc * cg + ci) * kN + kp);
            }
            y.add((b * m + oc) * outN + op, acc);
          }
        }
      }
    }
    addBias(y, bias, n, m, outN);
    return y.build(rounding);
  }

  /**
   * ONNX ConvTranspose: {@code x} [N, C, in...], {@code w} [C, M/group, k...], optional {@code bias} [M]; output
   * [N, M, out...] with out = stride (in - 1) + output_padding + dilation (k - 1) + 1 - pad_begin - pad_end,
   * rounded to the dtype under {@code rounding}.
   */
  public static Tensor convTranspose(Tensor x, Tensor w, Tensor bias, long[] strides, long[] pads,
      long[] dilations, long[] outputPadding, int group, Rounding rounding) {
    long[] xs = x.shape();
    long[] ws = w.shape();
    int sp = xs.length - 2;
    int n = (int) xs[0];
    int c = (int) xs[1];
    int mg = (int) ws[1];
    int m = mg * group;
    int cg = c / group;
    long[] in = Arrays.copyOfRange(xs, 2, xs.length);
    long[] k = Arrays.copyOfRange(ws, 2, ws.length);
    long[] out = new long[sp];
    for (int i = 0; i < sp; i++) {
      out[i] = strides[i] * (in[i] - 1) + outputPadding[i] + dilations[i] * (k[i] - 1) + 1 - pads[i] - pads[i + sp];
    }
    int inN = count(in);
    int outN = count(out);
    int kN = count(k);
    Tensor.Builder y = Tensor.builder(x.dtype(), outShape(n, m, out));
    long[] ii = new long[sp];
    long[] kk = new long[sp];
    long[] pos = new long[sp];
    for (int ip = 0; ip < inN; ip++) {
      unflatten(ip, in, ii);
      for (int kp = 0; kp < kN; kp++) {
        unflatten(kp, k, kk);
        for (int a = 0; a < sp; a++) {
          pos[a] = ii[a] * strides[a] - pads[a] + kk[a] * dilations[a];
        }
        int op = flatten(pos, out);
        if (op < 0) {
          continue;
        }
        for (int b = 0; b < n; b++) {
          for (int ci = 0; ci < c; ci++) {
            double xv = x.get((b * c + ci) * inN + ip);
            if (xv == 0) {
              continue;
            }
            int gi = ci / cg;
            for (int oc = 0; oc < mg; oc++) {
              y.add((b * m + gi * mg + oc) * outN + op, xv * w.get((ci * mg + oc) * kN + kp));
            }
          }
        }
      }
    }
    addBias(y, bias, n, m, outN);
    return y.build(rounding);
  }

  /** The shape [n, m, spatial...]. */
  private static long[] outShape(int n, int m, long[] spatial) {
    long[] shape = new long[spatial.length + 2];
    shape[0] = n;
    shape[1] = m;
    System.arraycopy(spatial, 0, shape, 2, spatial.length);
    return shape;
  }

  private static void addBias(Tensor.Builder y, Tensor bias, int n, int m, int outN) {
    if (bias == null) {
      return;
    }
    for (int b = 0; b < n; b++) {
      for (int oc = 0; oc < m; oc++) {
        double bv = bias.get(oc);
        for (int i = 0; i < outN; i++) {
          y.add((b * m + oc) * outN + i, bv);
        }
      }
    }
  }

  /** Pooling kinds. */
  public enum Pool { MAX, AVERAGE }

  /**
   * Max or average pooling over windows (floor mode) of {@code x} [N, C, in...]. Returns the pooled tensor and, for
   * max pooling, the int64 indices of the maxima flattened over all of {@code x} (ONNX MaxPool's Indices, row-major,
   * padding excluded); a tie goes to the first maximum in window scan order. Average pooling divides by the
   * window's positions inside the padded input when {@code countIncludePad} (the whole window, except for a
   * ceil-mode window hanging past the end pad), else by its positions inside the input. The pooled values are
   * rounded to the dtype under {@code rounding}.
   */
  public static Tensor[] pool(Tensor x, Pool kind, long[] kernel, long[] strides, long[] pads, long[] dilations,
      boolean countIncludePad, boolean ceil, Rounding rounding) {
    long[] xs = x.shape();
    int sp = xs.length - 2;
    int nc = (int) (xs[0] * xs[1]);
    long[] in = Arrays.copyOfRange(xs, 2, xs.length);
    long[] out = new long[sp];
    for (int i = 0; i < sp; i++) {
      out[i] = outSize(in[i], kernel[i], strides[i], pads[i], pads[i + sp], dilations[i], ceil);
    }
    int inN = count(in);
    int outN = count(out);
    int kN = count(kernel);
    Tensor divisor = windowCounts(in, kernel, strides, pads, dilations, countIncludePad, ceil, DType.FLOAT64);
    long[] shape = xs.clone();
    System.arraycopy(out, 0, shape, 2, sp);
    Tensor.Builder y = Tensor.builder(x.dtype(), shape);
    Tensor.Builder idx = Tensor.builder(DType.INT64, shape);
    long[] o = new long[sp];
    long[] kk = new long[sp];
    long[] pos = new long[sp];
    for (int op = 0; op < outN; op++) {
      unflatten(op, out, o);
      for (int p = 0; p < nc; p++) {
        double acc = kind == Pool.MAX ? Double.NEGATIVE_INFINITY : 0;
        int arg = -1;
        for (int kp = 0; kp < kN; kp++) {
          unflatten(kp, kernel, kk);
          for (int a = 0; a < sp; a++) {
            pos[a] = o[a] * strides[a] - pads[a] + kk[a] * dilations[a];
          }
          int ip = flatten(pos, in);
          if (ip < 0) {
            continue;
          }
          double v = x.get(p * inN + ip);
          if (kind == Pool.MAX) {
            if (arg < 0 || v > acc) {
              acc = v;
              arg = p * inN + ip;
            }
          } else {
            acc += v;
          }
        }
        if (kind == Pool.AVERAGE) {
          acc /= divisor.get(op);
        }
        y.set(p * outN + op, acc);
        idx.set(p * outN + op, arg);
      }
    }
    return new Tensor[] {y.build(rounding), idx.build()};
  }

  /**
   * Average pooling's divisor per output position (a tensor of the output's spatial shape): how many window
   * positions fall inside the input, or with {@code includePad} inside the padded input.
   */
  public static Tensor windowCounts(long[] in, long[] kernel, long[] strides, long[] pads, long[] dilations,
      boolean includePad, boolean ceil, DType dtype) {
    int sp = in.length;
    long[] out = new long[sp];
    long[] padded = new long[sp];
    for (int i = 0; i < sp; i++) {
      out[i] = outSize(in[i], kernel[i], strides[i], pads[i], pads[i + sp], dilations[i], ceil);
      padded[i] = includePad ? in[i] + pads[i] + pads[i + sp] : in[i];
    }
    Tensor.Builder cnt = Tensor.builder(dtype, out);
    long[] o = new long[sp];
    long[] kk = new long[sp];
    long[] pos = new long[sp];
    for (int op = 0; op < cnt.size(); op++) {
      unflatten(op, out, o);
      for (int kp = 0; kp < count(kernel); kp++) {
        unflatten(kp, kernel, kk);
        for (int a = 0; a < sp; a++) {
          pos[a] = o[a] * strides[a] - pads[a] + kk[a] * dilations[a] + (includePad ? pads[a] : 0);
        }
        if (flatten(pos, padded) >= 0) {
          cnt.add(op, 1);
        }
      }
    }
    return cnt.build();
  }
}
