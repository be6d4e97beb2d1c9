package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.eval.Kernels;
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

/** Contractions: MatMul (numpy batching) and Gemm (Conv is in {@link Convolution}, Einsum in {@link Einsum}). */
final class Linalg {
  private Linalg() { }

  static final Attr<Double> ALPHA = Attr.real("alpha");
  static final Attr<Double> BETA = Attr.real("beta");
  static final Attr<Long> TRANS_A = Attr.integer("transA");
  static final Attr<Long> TRANS_B = Attr.integer("transB");

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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(Kernels.matmul(in.get(0), in.get(1), rounding));
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes attrs, Rounding rounding) {
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
      Tensor y = Kernels.map(Kernels.matmul(a, b, rounding), a.dtype(), v -> v * alpha, rounding);
      if (in.size() > 2) {
        y = Kernels.zip(y, in.get(2), a.dtype(), (u, c) -> u + beta * c, rounding);
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
}
