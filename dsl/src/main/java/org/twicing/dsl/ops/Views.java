package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Ops that view the same elements in another layout: Reshape, Flatten, Transpose, Unsqueeze, Squeeze and
 * Expand (with Reshape's inference of a target shape that has -1 or symbolic dims).
 */
final class Views {
  private Views() { }

  private static Shape inferReshape(OpCall call, Shape in, List<Dim> target) {
    List<Dim> out = new ArrayList<>();
    int minusOne = -1;
    for (int i = 0; i < target.size(); i++) {
      Dim d = target.get(i);
      if (d == null || (d.isFixed() && d.size() < 0)) {
        if (minusOne >= 0) {
          throw call.fail("shape has more than one -1");
        }
        minusOne = i;
        out.add(null);
      } else if (d.is(0)) {
        if (i >= in.rank()) {
          throw call.fail("shape entry %d is 0 (copy) but the input has rank %d", i, in.rank());
        }
        out.add(in.dim(i));
      } else {
        out.add(d);
      }
    }
    // Cancel symbolic dims common to input and output first, so that a zero-sized axis does not hide them (the
    // product of [0, batch] is 0, but reshaping it to [batch, -1] still gives -1 = 0).
    List<Dim> num = new ArrayList<>(in.dims());
    Dim known = Dim.of(1);
    for (Dim d : out) {
      if (d != null && (d.isFixed() || !num.remove(d))) {
        known = known.times(d);
      }
    }
    Dim total = product(num);
    if (minusOne >= 0) {
      Optional<Dim> rest = total.dividedBy(known);
      if (rest.isPresent()) {
        out.set(minusOne, rest.get());
      } else if (!total.hasSymbolsOf(known)) {
        // The target names symbols the input lacks (e.g. [batch, -1] of [N, 8]): the -1 is a new symbol.
        out.set(minusOne, Dim.sym(call.input(0).name() + "_reshape"));
      } else if (total.isFixed()) {
        throw call.fail("cannot reshape %s (%d elements) into %s", in, total.size(), shapeText(target));
      } else {
        throw call.fail("cannot reshape %s into %s: fixed sizes do not divide", in, shapeText(target));
      }
    } else if (total.symbols().equals(known.symbols()) && total.coefficient() != known.coefficient()) {
      throw call.fail("cannot reshape %s (%s elements) into %s (%s elements)", in, product(in.dims()),
          shapeText(target), product(out));
    }
    return Shape.of(out);
  }

  private static Dim product(List<Dim> dims) {
    return dims.stream().reduce(Dim.of(1), Dim::times);
  }

  private static String shapeText(List<Dim> target) {
    return target.stream().map(d -> d == null ? "-1" : d.toString()).toList().toString();
  }

  static final OpDef RESHAPE = new OpDef("Reshape") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 2) {
        throw call.fail("expects 2 inputs (data, shape), got %d", call.count());
      }
      call.requireDType(1, DType.INT64);
      call.requireRank(1, 1);
      List<Dim> target = Shaping.dimsOf(call, 1);
      if (target == null) {
        Dim len = call.shape(1).dim(0);
        if (!len.isFixed()) {
          throw call.fail("the shape input must have a fixed length");
        }
        List<Dim> unknown = new ArrayList<>();
        for (int i = 0; i < len.size(); i++) {
          unknown.add(Dim.sym(call.input(0).name() + "_reshape_" + i));
        }
        return List.of(call.type(0).withShape(Shape.of(unknown)));
      }
      return List.of(call.type(0).withShape(inferReshape(call, call.shape(0), target)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      long[] t = in.get(1).toLongs();
      long known = 1;
      int neg = -1;
      for (int i = 0; i < t.length; i++) {
        if (t[i] == 0) {
          t[i] = x.dim(i);
        }
        if (t[i] < 0) {
          neg = i;
        } else {
          known *= t[i];
        }
      }
      if (neg >= 0) {
        t[neg] = x.size() / known;
      }
      return List.of(x.reshape(t));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0) == null ? null : reshapeLike(g.grad(0), g.input(0)), null);
    }
  };

  static final OpDef FLATTEN = new OpDef("Flatten") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Shape s = call.shape(0);
      long axis = call.attr(Shaping.AXIS, 1L);
      if (axis < -s.rank() || axis > s.rank()) {
        throw call.fail("axis %d is out of range for rank %d", axis, s.rank());
      }
      int a = (int) (axis < 0 ? axis + s.rank() : axis);
      Dim outer = Dim.of(1);
      for (int i = 0; i < a; i++) {
        outer = outer.times(s.dim(i));
      }
      Dim inner = Dim.of(1);
      for (int i = a; i < s.rank(); i++) {
        inner = inner.times(s.dim(i));
      }
      return List.of(call.type(0).withShape(Shape.of(outer, inner)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes attrs, Rounding rounding) {
      Tensor x = in.get(0);
      long axis = attrs.get(Shaping.AXIS, 1L);
      int a = (int) (axis < 0 ? axis + x.rank() : axis);
      long outer = 1;
      for (int i = 0; i < a; i++) {
        outer *= x.dim(i);
      }
      return List.of(x.reshape(outer, x.size() / Math.max(outer, 1)));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0) == null ? null : reshapeLike(g.grad(0), g.input(0)));
    }
  };

  static final OpDef TRANSPOSE = new OpDef("Transpose") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Shape s = call.shape(0);
      long[] perm = perm(call.attr(Shaping.PERM), s.rank());
      boolean[] seen = new boolean[s.rank()];
      if (perm.length != s.rank()) {
        throw call.fail("perm %s has %d entries but the input has rank %d", Arrays.toString(perm), perm.length,
            s.rank());
      }
      List<Dim> out = new ArrayList<>();
      for (long p : perm) {
        if (p < 0 || p >= s.rank() || seen[(int) p]) {
          throw call.fail("perm %s is not a permutation of 0..%d", Arrays.toString(perm), s.rank() - 1);
        }
        seen[(int) p] = true;
        out.add(s.dim((int) p));
      }
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      long[] perm = perm(a.get(Shaping.PERM), in.get(0).rank());
      return List.of(Kernels.transpose(in.get(0), Arrays.stream(perm).mapToInt(p -> (int) p).toArray()));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      long[] perm = perm(g.attr(Shaping.PERM, null), g.input(0).rank());
      int[] inv = new int[perm.length];
      for (int i = 0; i < perm.length; i++) {
        inv[(int) perm[i]] = i;
      }
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList((Value) null);
      }
      if (isSwapLast(perm) && dy.producer() != null && dy.producer().op() == Linalg.MATMUL
          && dy.producer().input(0).rank() >= 2 && dy.producer().input(1).rank() >= 2) {
        // (A B)ᵀ = Bᵀ Aᵀ: the gradient of a transposed MatMul operand (Kᵀ in attention scores, Wᵀ in a Linear)
        // arrives as a MatMul, so transposing the product is a MatMul with swapped, transposed operands. ONNX
        // Runtime fuses those transposes into the MatMul; a Transpose of the product is a separate, strided copy.
        Node mm = dy.producer();
        return Arrays.asList(matmul(unswapped(mm.input(1)), unswapped(mm.input(0))));
      }
      return Arrays.asList(transpose(dy, inv));
    }

    /** {@code v} with its last two axes swapped, undoing rather than stacking a swap that produced it. */
    private Value unswapped(Value v) {
      Node p = v.producer();
      if (p != null && p.op() == this && isSwapLast(perm(p.attributes().get(Shaping.PERM, null), v.rank()))) {
        return p.input(0);
      }
      return swapLast(v);
    }

    /** Whether {@code perm} swaps the last two axes and keeps the others. */
    private boolean isSwapLast(long[] perm) {
      int r = perm.length;
      if (r < 2 || perm[r - 2] != r - 1 || perm[r - 1] != r - 2) {
        return false;
      }
      for (int i = 0; i < r - 2; i++) {
        if (perm[i] != i) {
          return false;
        }
      }
      return true;
    }

    private long[] perm(long[] p, int rank) {
      if (p != null) {
        return p;
      }
      long[] rev = new long[rank];
      for (int i = 0; i < rank; i++) {
        rev[i] = rank - 1 - i;
      }
      return rev;
    }
  };

  static final OpDef UNSQUEEZE = new OpDef("Unsqueeze") {
    @Override
    public List<TensorType> infer(OpCall call) {
      long[] axes = Shaping.constInts(call, 1);
      if (axes == null) {
        throw call.fail("axes must be a constant int64 input");
      }
      int r = call.shape(0).rank() + axes.length;
      TreeMap<Integer, Boolean> at = new TreeMap<>();
      for (long a : axes) {
        at.put(call.axis(a, r, "axes entry"), true);
      }
      if (at.size() != axes.length) {
        throw call.fail("axes %s repeat an axis", Arrays.toString(axes));
      }
      List<Dim> out = new ArrayList<>();
      int k = 0;
      for (int i = 0; i < r; i++) {
        out.add(at.containsKey(i) ? Dim.of(1) : call.shape(0).dim(k++));
      }
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      return call.shape(0).rank() == 0 ? Shaping.scalarDims(call.input(0)) : null;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      long[] axes = in.get(1).toLongs();
      int r = x.rank() + axes.length;
      boolean[] at = new boolean[r];
      for (long ax : axes) {
        at[(int) (ax < 0 ? ax + r : ax)] = true;
      }
      long[] shape = new long[r];
      int k = 0;
      for (int i = 0; i < r; i++) {
        shape[i] = at[i] ? 1 : x.dim(k++);
      }
      return List.of(x.reshape(shape));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0) == null ? null : reshapeLike(g.grad(0), g.input(0)), null);
    }
  };

  static final OpDef SQUEEZE = new OpDef("Squeeze") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Shape s = call.shape(0);
      long[] axes = call.count() > 1 ? Shaping.constInts(call, 1) : null;
      boolean[] drop = new boolean[s.rank()];
      if (axes == null) {
        if (call.count() > 1) {
          throw call.fail("axes must be a constant int64 input");
        }
        for (int i = 0; i < s.rank(); i++) {
          drop[i] = s.dim(i).is(1);
        }
      } else {
        for (long a : axes) {
          int ax = call.axis(a, s.rank(), "axes entry");
          if (s.dim(ax).isFixed() && !s.dim(ax).is(1)) {
            throw call.fail("cannot squeeze axis %d of size %s", ax, s.dim(ax));
          }
          drop[ax] = true;
        }
      }
      List<Dim> out = new ArrayList<>();
      for (int i = 0; i < s.rank(); i++) {
        if (!drop[i]) {
          out.add(s.dim(i));
        }
      }
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      return call.input(0).shapeValue();
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      long[] axes = in.size() > 1 && in.get(1) != null ? in.get(1).toLongs() : null;
      boolean[] drop = new boolean[x.rank()];
      for (int i = 0; i < x.rank(); i++) {
        drop[i] = axes == null && x.dim(i) == 1;
      }
      if (axes != null) {
        for (long ax : axes) {
          drop[(int) (ax < 0 ? ax + x.rank() : ax)] = true;
        }
      }
      long[] shape = new long[x.rank()];
      int k = 0;
      for (int i = 0; i < x.rank(); i++) {
        if (!drop[i]) {
          shape[k++] = x.dim(i);
        }
      }
      return List.of(x.reshape(Arrays.copyOf(shape, k)));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0) == null ? null : reshapeLike(g.grad(0), g.input(0)), null);
    }
  };

  static final OpDef EXPAND = new OpDef("Expand") {
    @Override
    public List<TensorType> infer(OpCall call) {
      call.requireDType(1, DType.INT64);
      List<Dim> target = Shaping.dimsOf(call, 1);
      if (target == null || target.stream().anyMatch(Objects::isNull)) {
        throw call.fail("the target shape must be known when building (constant or shape value)");
      }
      return List.of(call.type(0).withShape(Broadcast.shapes(call, List.of(call.shape(0), Shape.of(target)))));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(Kernels.expand(in.get(0), in.get(1).toLongs()));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0) == null ? null : sumToShape(g.grad(0), g.input(0)), null);
    }
  };
}
