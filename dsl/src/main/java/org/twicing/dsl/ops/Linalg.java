package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Contractions: MatMul (numpy batching), Gemm, and 2-D Conv. */
final class Linalg {
  private Linalg() { }

  static final Attr<Double> ALPHA = Attr.real("alpha");
  static final Attr<Double> BETA = Attr.real("beta");
  static final Attr<Long> TRANS_A = Attr.integer("transA");
  static final Attr<Long> TRANS_B = Attr.integer("transB");
  static final Attr<long[]> KERNEL_SHAPE = Attr.ints("kernel_shape");
  static final Attr<long[]> STRIDES = Attr.ints("strides");
  static final Attr<long[]> PADS = Attr.ints("pads");
  static final Attr<long[]> DILATIONS = Attr.ints("dilations");
  static final Attr<Long> GROUP = Attr.integer("group");

  private static boolean sameDim(Dim a, Dim b) {
    return a.equals(b) || !a.isFixed() || !b.isFixed();
  }

  static final OpDef MATMUL = new OpDef("MatMul") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 2) {
        throw call.fail("expects 2 inputs, got %d", call.count());
      }
      call.requireSameDType(0, 1);
      Shape a = call.shape(0);
      Shape b = call.shape(1);
      if (a.rank() == 0 || b.rank() == 0) {
        throw call.fail("operands must have rank >= 1 (MatMul does not take scalars)");
      }
      Dim ka = a.dim(-1);
      Dim kb = b.rank() == 1 ? b.dim(0) : b.dim(-2);
      if (!sameDim(ka, kb)) {
        throw call.fail("inner dimensions differ: '%s' %s has %s columns but '%s' %s has %s rows",
            call.input(0).name(), a, ka, call.input(1).name(), b, kb);
      }
      Shape batchA = a.rank() > 2 ? a.slice(0, a.rank() - 2) : Shape.scalar();
      Shape batchB = b.rank() > 2 ? b.slice(0, b.rank() - 2) : Shape.scalar();
      Shape batch = Broadcast.shapes(call, List.of(batchA, batchB));
      List<Dim> out = new ArrayList<>(batch.dims());
      if (a.rank() > 1) {
        out.add(a.dim(-2));
      }
      if (b.rank() > 1) {
        out.add(b.dim(-1));
      }
      return List.of(new TensorType(call.dtype(0), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      return List.of(Kernels.matmul(in.get(0), in.get(1)));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value a = g.input(0);
      Value b = g.input(1);
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList(null, null);
      }
      if (a.rank() < 2 || b.rank() < 2) {
        throw new UnsupportedOperationException("MatMul gradient (node " + g.node().name()
            + ") needs operands of rank >= 2, got " + a.type() + " and " + b.type());
      }
      Value da = null;
      Value db = null;
      if (g.needs(0)) {
        da = sumToShape(matmul(dy, swapLast(b)), a);
      }
      if (g.needs(1)) {
        if (b.rank() == 2 && a.rank() > 2) {
          // A shared weight: fold the batch dims into rows so one GEMM computes the sum over the batch.
          Dim k = a.shape().dim(-1);
          Dim n = dy.shape().dim(-1);
          Value a2 = reshape(a, -1, k.size());
          Value dy2 = reshape(dy, -1, n.size());
          db = matmul(transpose(a2, 1, 0), dy2);
        } else {
          db = sumToShape(matmul(swapLast(a), dy), b);
        }
      }
      return Arrays.asList(da, db);
    }
  };

  static final OpDef GEMM = new OpDef("Gemm") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 2 || call.count() > 3) {
        throw call.fail("expects 2 or 3 inputs (A, B, optional C), got %d", call.count());
      }
      call.requireFloat(0);
      call.requireSameDType(0, 1);
      call.requireRank(0, 2);
      call.requireRank(1, 2);
      boolean ta = call.attr(TRANS_A, 0L) != 0;
      boolean tb = call.attr(TRANS_B, 0L) != 0;
      Shape a = call.shape(0);
      Shape b = call.shape(1);
      Dim m = ta ? a.dim(1) : a.dim(0);
      Dim ka = ta ? a.dim(0) : a.dim(1);
      Dim kb = tb ? b.dim(1) : b.dim(0);
      Dim n = tb ? b.dim(0) : b.dim(1);
      if (!sameDim(ka, kb)) {
        throw call.fail("inner dimensions differ: A%s (transA=%d) and B%s (transB=%d)", a, ta ? 1 : 0, b, tb ? 1 : 0);
      }
      Shape out = Shape.of(m, n);
      if (call.count() == 3) {
        call.requireSameDType(0, 2);
        Shape c = Broadcast.shapes(call, List.of(out, call.shape(2)));
        if (!c.equals(out)) {
          throw call.fail("C %s must broadcast to the output shape %s (unidirectionally)", call.shape(2), out);
        }
      }
      return List.of(new TensorType(call.dtype(0), out));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes attrs) {
      Tensor a = in.get(0);
      Tensor b = in.get(1);
      if (attrs.get(TRANS_A, 0L) != 0) {
        a = Kernels.transpose(a, new int[] {1, 0});
      }
      if (attrs.get(TRANS_B, 0L) != 0) {
        b = Kernels.transpose(b, new int[] {1, 0});
      }
      double alpha = attrs.get(ALPHA, 1.0);
      double beta = attrs.get(BETA, 1.0);
      Tensor y = Kernels.map(Kernels.matmul(a, b), a.dtype(), v -> v * alpha);
      if (in.size() > 2) {
        y = Kernels.zip(y, in.get(2), a.dtype(), (u, c) -> u + beta * c);
      }
      return List.of(y);
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList(null, null, null);
      }
      boolean ta = g.attr(TRANS_A, 0L) != 0;
      boolean tb = g.attr(TRANS_B, 0L) != 0;
      double alpha = g.attr(ALPHA, 1.0);
      double beta = g.attr(BETA, 1.0);
      Value a = g.input(0);
      Value b = g.input(1);
      Value dyA = alpha == 1.0 ? dy : mul(dy, scalarLike(dy, alpha));
      // Y = op(A) op(B): d op(A) = dY op(B)^T, d op(B) = op(A)^T dY, then undo the transposes.
      Value da = null;
      Value db = null;
      if (g.needs(0)) {
        da = ta ? gemm(b, dyA, tb, true) : gemm(dyA, b, false, !tb);
      }
      if (g.needs(1)) {
        db = tb ? gemm(dyA, a, true, ta) : gemm(a, dyA, !ta, false);
      }
      Value dc = null;
      if (g.input(2) != null && g.needs(2)) {
        dc = sumToShape(beta == 1.0 ? dy : mul(dy, scalarLike(dy, beta)), g.input(2));
      }
      return Arrays.asList(da, db, dc);
    }
  };

  /** 2-D convolution (NCHW), optional bias; gradient for non-overlapping kernels (patch embeddings). */
  static final OpDef CONV = new OpDef("Conv") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 2 || call.count() > 3) {
        throw call.fail("expects 2 or 3 inputs (X, W, optional B), got %d", call.count());
      }
      call.requireFloat(0);
      call.requireSameDType(0, 1);
      call.requireRank(0, 4);
      call.requireRank(1, 4);
      Shape x = call.shape(0);
      Shape w = call.shape(1);
      if (call.attr(GROUP, 1L) != 1) {
        throw call.fail("only group=1 is supported, got %d", call.attr(GROUP, 1L));
      }
      if (!sameDim(x.dim(1), w.dim(1))) {
        throw call.fail("input channels differ: X%s has %s channels, W%s expects %s", x, x.dim(1), w, w.dim(1));
      }
      if (call.count() == 3) {
        call.requireRank(2, 1);
        if (!sameDim(call.shape(2).dim(0), w.dim(0))) {
          throw call.fail("bias %s must have one entry per output channel (%s)", call.shape(2), w.dim(0));
        }
      }
      long[] k = {w.dim(2).size(), w.dim(3).size()};
      long[] kAttr = call.attr(KERNEL_SHAPE);
      if (kAttr != null && !Arrays.equals(kAttr, k)) {
        throw call.fail("kernel_shape %s does not match W%s", Arrays.toString(kAttr), w);
      }
      long[] s = call.attr(STRIDES, new long[] {1, 1});
      long[] p = call.attr(PADS, new long[] {0, 0, 0, 0});
      long[] d = call.attr(DILATIONS, new long[] {1, 1});
      List<Dim> out = new ArrayList<>(List.of(x.dim(0), w.dim(0)));
      for (int i = 0; i < 2; i++) {
        Dim in = x.dim(2 + i);
        if (!in.isFixed()) {
          out.add(Dim.sym(in + "_conv"));
          continue;
        }
        long eff = d[i] * (k[i] - 1) + 1;
        long o = (in.size() + p[i] + p[i + 2] - eff) / s[i] + 1;
        if (o <= 0) {
          throw call.fail("spatial size %d with kernel %d, stride %d, pads %d/%d gives no output", in.size(), k[i],
              s[i], p[i], p[i + 2]);
        }
        out.add(Dim.of(o));
      }
      return List.of(new TensorType(call.dtype(0), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes attrs) {
      Tensor x = in.get(0);
      Tensor w = in.get(1);
      long[] xs = x.shape();
      long[] ws = w.shape();
      long[] s = attrs.get(STRIDES, new long[] {1, 1});
      long[] p = attrs.get(PADS, new long[] {0, 0, 0, 0});
      long[] d = attrs.get(DILATIONS, new long[] {1, 1});
      int n = (int) xs[0];
      int c = (int) xs[1];
      int h = (int) xs[2];
      int wd = (int) xs[3];
      int m = (int) ws[0];
      int kh = (int) ws[2];
      int kw = (int) ws[3];
      int oh = (int) ((h + p[0] + p[2] - (d[0] * (kh - 1) + 1)) / s[0] + 1);
      int ow = (int) ((wd + p[1] + p[3] - (d[1] * (kw - 1) + 1)) / s[1] + 1);
      double[] out = new double[n * m * oh * ow];
      double[] xd = x.data();
      double[] wdt = w.data();
      for (int b = 0; b < n; b++) {
        for (int o = 0; o < m; o++) {
          double bias = in.size() > 2 ? in.get(2).get(o) : 0;
          for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
              double acc = bias;
              for (int ci = 0; ci < c; ci++) {
                for (int u = 0; u < kh; u++) {
                  long yy = i * s[0] - p[0] + u * d[0];
                  if (yy < 0 || yy >= h) {
                    continue;
                  }
                  for (int v = 0; v < kw; v++) {
                    long xx = j * s[1] - p[1] + v * d[1];
                    if (xx < 0 || xx >= wd) {
                      continue;
                    }
                    acc += xd[(int) (((b * c + ci) * h + yy) * wd + xx)] * wdt[((o * c + ci) * kh + u) * kw + v];
                  }
                }
              }
              out[((b * m + o) * oh + i) * ow + j] = acc;
            }
          }
        }
      }
      return List.of(new Tensor(x.dtype(), new long[] {n, m, oh, ow}, out).roundedToDType());
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList(null, null, null);
      }
      Value x = g.input(0);
      Value w = g.input(1);
      long kh = w.shape().dim(2).size();
      long kw = w.shape().dim(3).size();
      long[] s = g.attr(STRIDES, new long[] {1, 1});
      long[] p = g.attr(PADS, new long[] {0, 0, 0, 0});
      long[] d = g.attr(DILATIONS, new long[] {1, 1});
      Shape xs = x.shape();
      if (s[0] != kh || s[1] != kw || Arrays.stream(p).anyMatch(v -> v != 0) || d[0] != 1 || d[1] != 1
          || !xs.dim(2).isFixed() || !xs.dim(3).isFixed() || xs.dim(2).size() % kh != 0
          || xs.dim(3).size() % kw != 0) {
        throw new UnsupportedOperationException("Conv gradient (node " + g.node().name() + ") is implemented for "
            + "non-overlapping kernels only (stride == kernel, no padding or dilation, fixed spatial size "
            + "divisible by the kernel), as in patch embeddings; got X" + xs + ", W" + w.shape()
            + ", strides " + Arrays.toString(s) + ", pads " + Arrays.toString(p));
      }
      // Non-overlapping patches make the convolution a GEMM between patch rows and the flattened kernel.
      long c = xs.dim(1).size();
      long hp = xs.dim(2).size() / kh;
      long wp = xs.dim(3).size() / kw;
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
      Value db = g.input(2) != null && g.needs(2) ? reduceSum(dy, false, 0, 2, 3) : null;
      return Arrays.asList(dx, dw, db);
    }
  };
}
