package org.twicing.dsl.eval;

import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.ToDoubleFunction;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;

/** Plain-Java float64 kernels behind the ops' reference semantics: broadcasting, indexing, contractions. */
public final class Kernels {
  private Kernels() { }

  /** Row-major strides of a shape. */
  public static long[] strides(long[] shape) {
    long[] s = new long[shape.length];
    long acc = 1;
    for (int i = shape.length - 1; i >= 0; i--) {
      s[i] = acc;
      acc *= shape[i];
    }
    return s;
  }

  /** Numpy broadcast of several shapes; fails with both shapes in the message. */
  public static long[] broadcastShape(long[]... shapes) {
    int rank = 0;
    for (long[] s : shapes) {
      rank = Math.max(rank, s.length);
    }
    long[] out = new long[rank];
    Arrays.fill(out, 1);
    for (long[] s : shapes) {
      for (int i = 0; i < s.length; i++) {
        int o = rank - s.length + i;
        if (s[i] != 1) {
          if (out[o] != 1 && out[o] != s[i]) {
            throw new IllegalArgumentException("shapes do not broadcast: " + Arrays.deepToString(shapes));
          }
          out[o] = s[i];
        }
      }
    }
    return out;
  }

  /** Elementwise map; results are brought to {@code out} under {@code rounding}. */
  public static Tensor map(Tensor a, DType out, DoubleUnaryOperator f, Rounding rounding) {
    Tensor.Builder d = Tensor.builder(out, a.shape());
    for (int i = 0; i < d.size(); i++) {
      d.set(i, f.applyAsDouble(a.get(i)));
    }
    return d.build(rounding);
  }

  /** Broadcasting elementwise combination of two tensors; results are brought to {@code out} under {@code rounding}. */
  public static Tensor zip(Tensor a, Tensor b, DType out, DoubleBinaryOperator f, Rounding rounding) {
    return zipN(List.of(a, b), out, v -> f.applyAsDouble(v[0], v[1]), rounding);
  }

  /** Broadcasting elementwise combination of any number of tensors, brought to {@code out} under {@code rounding}. */
  public static Tensor zipN(List<Tensor> ts, DType out, ToDoubleFunction<double[]> f, Rounding rounding) {
    long[][] shapes = new long[ts.size()][];
    for (int i = 0; i < shapes.length; i++) {
      shapes[i] = ts.get(i).shape();
    }
    long[] shape = broadcastShape(shapes);
    int n = (int) Tensor.numel(shape);
    Tensor.Builder d = Tensor.builder(out, shape);
    int[][] srcIndex = new int[ts.size()][];
    for (int t = 0; t < ts.size(); t++) {
      srcIndex[t] = broadcastIndex(ts.get(t).shape(), shape);
    }
    double[] args = new double[ts.size()];
    for (int i = 0; i < n; i++) {
      for (int t = 0; t < args.length; t++) {
        args[t] = ts.get(t).get(srcIndex[t][i]);
      }
      d.set(i, f.applyAsDouble(args));
    }
    return d.build(rounding);
  }

  /** For each flat index of {@code to}, the flat index of {@code from} that broadcasts onto it. */
  public static int[] broadcastIndex(long[] from, long[] to) {
    int n = (int) Tensor.numel(to);
    int[] map = new int[n];
    long[] fs = strides(from);
    int off = to.length - from.length;
    long[] idx = new long[to.length];
    for (int i = 0; i < n; i++) {
      long src = 0;
      for (int k = 0; k < from.length; k++) {
        if (from[k] != 1) {
          src += idx[k + off] * fs[k];
        }
      }
      map[i] = (int) src;
      for (int k = to.length - 1; k >= 0; k--) {
        if (++idx[k] < to[k]) {
          break;
        }
        idx[k] = 0;
      }
    }
    return map;
  }

  /** Broadcasts {@code a} to {@code shape}. */
  public static Tensor expand(Tensor a, long[] shape) {
    long[] s = broadcastShape(a.shape(), shape);
    int[] map = broadcastIndex(a.shape(), s);
    return Tensor.build(a.dtype(), s, i -> a.get(map[i]));
  }

  /** Permutes axes. */
  public static Tensor transpose(Tensor a, int[] perm) {
    long[] in = a.shape();
    long[] out = new long[in.length];
    for (int i = 0; i < perm.length; i++) {
      out[i] = in[perm[i]];
    }
    long[] inStrides = strides(in);
    int n = a.size();
    Tensor.Builder d = Tensor.builder(a.dtype(), out);
    long[] idx = new long[out.length];
    for (int i = 0; i < n; i++) {
      long src = 0;
      for (int k = 0; k < out.length; k++) {
        src += idx[k] * inStrides[perm[k]];
      }
      d.set(i, a.get((int) src));
      for (int k = out.length - 1; k >= 0; k--) {
        if (++idx[k] < out[k]) {
          break;
        }
        idx[k] = 0;
      }
    }
    return d.build();
  }

  /** Numpy matmul: 1-D operands are promoted, batch dimensions broadcast; results rounded under {@code rounding}. */
  public static Tensor matmul(Tensor a, Tensor b, Rounding rounding) {
    long[] as = a.shape();
    long[] bs = b.shape();
    boolean aVec = as.length == 1;
    boolean bVec = bs.length == 1;
    if (aVec) {
      as = new long[] {1, as[0]};
    }
    if (bVec) {
      bs = new long[] {bs[0], 1};
    }
    long m = as[as.length - 2];
    long k = as[as.length - 1];
    long n = bs[bs.length - 1];
    if (bs[bs.length - 2] != k) {
      throw new IllegalArgumentException("matmul inner dimensions differ: " + Arrays.toString(as) + " x "
          + Arrays.toString(bs));
    }
    long[] batch = broadcastShape(Arrays.copyOf(as, as.length - 2), Arrays.copyOf(bs, bs.length - 2));
    int nb = (int) Tensor.numel(batch);
    int[] ai = broadcastIndex(Arrays.copyOf(as, as.length - 2), batch);
    int[] bi = broadcastIndex(Arrays.copyOf(bs, bs.length - 2), batch);
    long[] mn = aVec && bVec ? new long[0] : aVec ? new long[] {n} : bVec ? new long[] {m} : new long[] {m, n};
    long[] shape = new long[batch.length + mn.length];
    System.arraycopy(batch, 0, shape, 0, batch.length);
    System.arraycopy(mn, 0, shape, batch.length, mn.length);
    Tensor.Builder out = Tensor.builder(a.dtype(), shape);
    for (int t = 0; t < nb; t++) {
      int aOff = (int) (ai[t] * m * k);
      int bOff = (int) (bi[t] * k * n);
      int oOff = (int) (t * m * n);
      for (int i = 0; i < m; i++) {
        for (int p = 0; p < k; p++) {
          double av = a.get((int) (aOff + i * k + p));
          if (av == 0) {
            continue;
          }
          for (int j = 0; j < n; j++) {
            out.add((int) (oOff + i * n + j), av * b.get((int) (bOff + p * n + j)));
          }
        }
      }
    }
    return out.build(rounding);
  }

  /** Reduction kinds. */
  public enum Reduction { SUM, MEAN, MAX }

  /** Reduces over {@code axes}; results are rounded to the dtype under {@code rounding}. */
  public static Tensor reduce(Tensor a, int[] axes, boolean keepDims, Reduction kind, Rounding rounding) {
    long[] in = a.shape();
    boolean[] red = new boolean[in.length];
    for (int ax : axes) {
      red[ax] = true;
    }
    long[] keep = in.clone();
    long count = 1;
    for (int i = 0; i < in.length; i++) {
      if (red[i]) {
        keep[i] = 1;
        count *= in[i];
      }
    }
    int n = (int) Tensor.numel(keep);
    Tensor.Builder out = Tensor.builder(a.dtype(), keep);
    if (kind == Reduction.MAX) {
      out.fill(Double.NEGATIVE_INFINITY);
    }
    long[] ks = strides(keep);
    long[] idx = new long[in.length];
    for (int i = 0; i < a.size(); i++) {
      long o = 0;
      for (int k = 0; k < in.length; k++) {
        if (!red[k]) {
          o += idx[k] * ks[k];
        }
      }
      if (kind == Reduction.MAX) {
        out.set((int) o, Math.max(out.get((int) o), a.get(i)));
      } else {
        out.add((int) o, a.get(i));
      }
      for (int k = in.length - 1; k >= 0; k--) {
        if (++idx[k] < in[k]) {
          break;
        }
        idx[k] = 0;
      }
    }
    if (kind == Reduction.MEAN) {
      for (int i = 0; i < n; i++) {
        out.set(i, out.get(i) / count);
      }
    }
    long[] shape = keep;
    if (!keepDims) {
      shape = new long[in.length - axes.length];
      int j = 0;
      for (int i = 0; i < in.length; i++) {
        if (!red[i]) {
          shape[j++] = in[i];
        }
      }
    }
    return out.build(rounding).reshape(shape);
  }

  /** Softmax (or log-softmax) along one axis; results are rounded to the dtype under {@code rounding}. */
  public static Tensor softmax(Tensor a, int axis, boolean log, Rounding rounding) {
    long[] s = a.shape();
    long inner = 1;
    for (int i = axis + 1; i < s.length; i++) {
      inner *= s[i];
    }
    long len = s[axis];
    long outer = a.size() / Math.max(1, len * inner);
    Tensor.Builder y = Tensor.builder(a.dtype(), s);
    for (long o = 0; o < outer; o++) {
      for (long in = 0; in < inner; in++) {
        long base = o * len * inner + in;
        double max = Double.NEGATIVE_INFINITY;
        for (long j = 0; j < len; j++) {
          max = Math.max(max, a.get((int) (base + j * inner)));
        }
        double sum = 0;
        for (long j = 0; j < len; j++) {
          sum += Math.exp(a.get((int) (base + j * inner)) - max);
        }
        for (long j = 0; j < len; j++) {
          double v = a.get((int) (base + j * inner)) - max;
          y.set((int) (base + j * inner), log ? v - Math.log(sum) : Math.exp(v) / sum);
        }
      }
    }
    return y.build(rounding);
  }

  /** The error function to double precision (series near zero, continued fraction in the tails). */
  public static double erf(double x) {
    if (Double.isNaN(x)) {
      return x;
    }
    double ax = Math.abs(x);
    double r;
    if (ax < 3.0) {
      double sum = 0;
      double term = ax;
      double x2 = ax * ax;
      for (int n = 0; n < 200; n++) {
        double t = term / (2 * n + 1);
        sum += t;
        if (Math.abs(t) < 1e-17 * Math.abs(sum)) {
          break;
        }
        term *= -x2 / (n + 1);
      }
      r = 2.0 / Math.sqrt(Math.PI) * sum;
    } else {
      // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))) evaluated bottom-up.
      double f = ax;
      for (int k = 120; k >= 1; k--) {
        f = ax + (k / 2.0) / f;
      }
      r = 1.0 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
    }
    return x < 0 ? -r : r;
  }
}
