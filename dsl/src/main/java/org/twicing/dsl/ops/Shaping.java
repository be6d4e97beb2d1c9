package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Ops that move, select or describe data without arithmetic: reshapes, slicing, gathering, constants. */
final class Shaping {
  private Shaping() { }

  static final Attr<long[]> PERM = Attr.ints("perm");
  static final Attr<Long> AXIS = Attr.integer("axis");
  static final Attr<Long> TO = Attr.integer("to");
  static final Attr<Long> START = Attr.integer("start");
  static final Attr<Long> END = Attr.integer("end");
  static final Attr<Long> UPPER = Attr.integer("upper");
  static final Attr<Tensor> VALUE = Attr.tensor("value");

  /** The constant int64 values of input {@code i}, or null when not known at build time. */
  static long[] constInts(OpCall call, int i) {
    Value v = call.input(i);
    if (v == null) {
      return null;
    }
    if (v.constant() != null) {
      return v.constant().toLongs();
    }
    List<Dim> sv = v.shapeValue();
    if (sv != null && sv.stream().allMatch(Dim::isFixed)) {
      return sv.stream().mapToLong(Dim::size).toArray();
    }
    return null;
  }

  /** The dims input {@code i} describes, possibly symbolic, or null. */
  static List<Dim> dimsOf(OpCall call, int i) {
    Value v = call.input(i);
    if (v.shapeValue() != null) {
      return v.shapeValue();
    }
    long[] c = constInts(call, i);
    if (c == null) {
      return null;
    }
    List<Dim> out = new ArrayList<>();
    for (long x : c) {
      out.add(x < 0 ? null : Dim.of(x));
    }
    return out;
  }

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
    // Cancel dims common to input and output, then what is left on each side must agree.
    List<Dim> num = new ArrayList<>(in.dims());
    List<Dim> den = new ArrayList<>();
    for (Dim d : out) {
      if (d != null) {
        if (!d.isFixed() && num.remove(d)) {
          continue;
        }
        den.add(d);
      }
    }
    long[] numFixedBox = {1};
    List<String> numSyms = new ArrayList<>();
    num.forEach(d -> factor(d, numFixedBox, numSyms));
    long[] denFixedBox = {1};
    List<String> denSyms = new ArrayList<>();
    den.forEach(d -> factor(d, denFixedBox, denSyms));
    // Symbols on both sides cancel (e.g. batch*49 reshaped to [-1, 7, 7, ...] keeps batch).
    for (java.util.Iterator<String> it = denSyms.iterator(); it.hasNext();) {
      if (numSyms.remove(it.next())) {
        it.remove();
      }
    }
    long numFixed = numFixedBox[0];
    long denFixed = denFixedBox[0];
    if (minusOne >= 0) {
      if (!denSyms.isEmpty()) {
        out.set(minusOne, Dim.sym(call.input(0).name() + "_reshape"));
      } else if (numSyms.isEmpty()) {
        if (denFixed == 0 || numFixed % denFixed != 0) {
          throw call.fail("cannot reshape %s (%d elements) into %s", in, numFixed, shapeText(target));
        }
        out.set(minusOne, Dim.of(numFixed / denFixed));
      } else {
        Collections.sort(numSyms);
        String name = String.join("*", numSyms);
        if (numFixed % Math.max(denFixed, 1) != 0) {
          throw call.fail("cannot reshape %s into %s: fixed sizes do not divide", in, shapeText(target));
        }
        long f = numFixed / Math.max(denFixed, 1);
        out.set(minusOne, Dim.sym(f == 1 ? name : name + "*" + f));
      }
    } else if (numSyms.isEmpty() && denSyms.isEmpty() && numFixed != denFixed) {
      throw call.fail("cannot reshape %s (%d elements) into %s (%d elements)", in, in.numel(), shapeText(target),
          Shape.of(out).numel());
    }
    return Shape.of(out);
  }

  /** Splits a dim into its fixed factor and symbol factors; product symbols read like "batch*49". */
  private static void factor(Dim d, long[] fixed, List<String> syms) {
    if (d.isFixed()) {
      fixed[0] *= d.size();
      return;
    }
    for (String part : d.symbol().split("\\*")) {
      if (part.matches("[0-9]+")) {
        fixed[0] *= Long.parseLong(part);
      } else {
        syms.add(part);
      }
    }
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
      List<Dim> target = dimsOf(call, 1);
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
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
      long axis = call.attr(AXIS, 1L);
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes attrs) {
      Tensor x = in.get(0);
      long axis = attrs.get(AXIS, 1L);
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
      long[] perm = perm(call.attr(PERM), s.rank());
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      long[] perm = perm(a.get(PERM), in.get(0).rank());
      return List.of(Kernels.transpose(in.get(0), Arrays.stream(perm).mapToInt(p -> (int) p).toArray()));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      long[] perm = perm(g.attr(PERM, null), g.input(0).rank());
      int[] inv = new int[perm.length];
      for (int i = 0; i < perm.length; i++) {
        inv[(int) perm[i]] = i;
      }
      return Arrays.asList(g.grad(0) == null ? null : transpose(g.grad(0), inv));
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

  static final OpDef CONCAT = new OpDef("Concat") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 1) {
        throw call.fail("needs at least one input");
      }
      Shape first = call.shape(0);
      int axis = call.axis(call.attr(AXIS, 0L), first.rank(), "axis");
      Dim total = Dim.of(0);
      List<String> syms = new ArrayList<>();
      long fixed = 0;
      for (int i = 0; i < call.count(); i++) {
        call.requireSameDType(0, i);
        Shape s = call.shape(i);
        if (s.rank() != first.rank()) {
          throw call.fail("input %d '%s' has rank %d, input 0 has rank %d", i, call.input(i).name(), s.rank(),
              first.rank());
        }
        for (int k = 0; k < s.rank(); k++) {
          if (k != axis && s.dim(k).isFixed() && first.dim(k).isFixed() && !s.dim(k).equals(first.dim(k))) {
            throw call.fail("input %d '%s' %s differs from input 0 %s outside the concat axis %d", i,
                call.input(i).name(), s, first, axis);
          }
        }
        Dim d = s.dim(axis);
        if (d.isFixed()) {
          fixed += d.size();
        } else {
          syms.add(d.symbol());
        }
      }
      total = syms.isEmpty() ? Dim.of(fixed) : Dim.sym(String.join("+", syms) + (fixed > 0 ? "+" + fixed : ""));
      return List.of(call.type(0).withShape(first.with(axis, total)));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      if (call.dtype(0) != DType.INT64 || call.shape(0).rank() != 1) {
        return null;
      }
      List<Dim> out = new ArrayList<>();
      for (int i = 0; i < call.count(); i++) {
        List<Dim> d = dimsOf(call, i);
        if (d == null || d.stream().anyMatch(java.util.Objects::isNull)) {
          return null;
        }
        out.addAll(d);
      }
      return out;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor first = in.get(0);
      int axis = (int) (a.get(AXIS, 0L) < 0 ? a.get(AXIS, 0L) + first.rank() : a.get(AXIS, 0L));
      long outer = 1;
      for (int i = 0; i < axis; i++) {
        outer *= first.dim(i);
      }
      long[] shape = first.shape();
      shape[axis] = 0;
      for (Tensor t : in) {
        shape[axis] += t.dim(axis);
      }
      double[] d = new double[(int) Tensor.numel(shape)];
      int pos = 0;
      for (long o = 0; o < outer; o++) {
        for (Tensor t : in) {
          int chunk = (int) (t.size() / Math.max(outer, 1));
          System.arraycopy(t.data(), (int) (o * chunk), d, pos, chunk);
          pos += chunk;
        }
      }
      return List.of(new Tensor(first.dtype(), shape, d));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      List<Value> out = new ArrayList<>();
      if (dy == null) {
        g.node().inputs().forEach(v -> out.add(null));
        return out;
      }
      int axis = (int) (long) g.attr(AXIS, 0L);
      axis = axis < 0 ? axis + dy.rank() : axis;
      long[] sizes = new long[g.node().inputs().size()];
      for (int i = 0; i < sizes.length; i++) {
        Dim d = g.input(i).shape().dim(axis);
        if (!d.isFixed()) {
          throw new UnsupportedOperationException("Concat gradient (node " + g.node().name()
              + ") needs fixed sizes along the concat axis, input " + i + " has " + d);
        }
        sizes[i] = d.size();
      }
      return new ArrayList<>(split(dy, axis, sizes));
    }
  };

  static final OpDef SPLIT = new OpDef("Split") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Shape s = call.shape(0);
      int axis = call.axis(call.attr(AXIS, 0L), s.rank(), "axis");
      long[] sizes = constInts(call, 1);
      if (sizes == null) {
        throw call.fail("split sizes must be a constant int64 input");
      }
      Dim d = s.dim(axis);
      long sum = Arrays.stream(sizes).sum();
      if (d.isFixed() && d.size() != sum) {
        throw call.fail("split sizes %s add up to %d but axis %d has size %d", Arrays.toString(sizes), sum, axis,
            d.size());
      }
      List<TensorType> out = new ArrayList<>();
      for (long k : sizes) {
        out.add(call.type(0).withShape(s.with(axis, Dim.of(k))));
      }
      return out;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor x = in.get(0);
      int axis = (int) (a.get(AXIS, 0L) < 0 ? a.get(AXIS, 0L) + x.rank() : a.get(AXIS, 0L));
      long[] sizes = in.get(1).toLongs();
      long outer = 1;
      for (int i = 0; i < axis; i++) {
        outer *= x.dim(i);
      }
      long inner = x.size() / Math.max(1, outer * x.dim(axis));
      List<Tensor> out = new ArrayList<>();
      long offset = 0;
      for (long k : sizes) {
        long[] shape = x.shape();
        shape[axis] = k;
        double[] d = new double[(int) Tensor.numel(shape)];
        for (long o = 0; o < outer; o++) {
          System.arraycopy(x.data(), (int) ((o * x.dim(axis) + offset) * inner), d, (int) (o * k * inner),
              (int) (k * inner));
        }
        offset += k;
        out.add(new Tensor(x.dtype(), shape, d));
      }
      return out;
    }

    @Override
    public List<Value> gradient(GradCall g) {
      int n = g.node().outputs().size();
      boolean any = false;
      List<Value> parts = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Value gi = g.grad(i);
        any |= gi != null;
        parts.add(gi != null ? gi : zerosLike(g.output(i)));
      }
      int axis = (int) (long) g.attr(AXIS, 0L);
      return Arrays.asList(any ? concat(axis, parts.toArray(new Value[0])) : null, null);
    }
  };

  static final OpDef SLICE = new OpDef("Slice") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 3) {
        throw call.fail("expects data, starts, ends[, axes, steps], got %d inputs", call.count());
      }
      Shape s = call.shape(0);
      long[] starts = constInts(call, 1);
      long[] axes = call.count() > 3 ? constInts(call, 3) : null;
      long[] steps = call.count() > 4 ? constInts(call, 4) : null;
      List<Dim> ends = dimsOf(call, 2);
      if (starts == null || ends == null) {
        throw call.fail("starts and ends must be known when building (constants or shape values)");
      }
      int n = starts.length;
      if (axes == null) {
        axes = new long[n];
        for (int i = 0; i < n; i++) {
          axes[i] = i;
        }
      }
      List<Dim> out = new ArrayList<>(s.dims());
      for (int i = 0; i < n; i++) {
        int ax = call.axis(axes[i], s.rank(), "axes entry");
        long step = steps == null ? 1 : steps[i];
        if (step == 0) {
          throw call.fail("step 0 on axis %d", ax);
        }
        Dim dim = s.dim(ax);
        Dim end = ends.get(i);
        if (end != null && !end.isFixed()) {
          if (starts[i] != 0 || step != 1) {
            throw call.fail("a symbolic end needs start 0 and step 1");
          }
          out.set(ax, end);
          continue;
        }
        if (!dim.isFixed()) {
          if (end != null && end.size() < Long.MAX_VALUE / 2 && starts[i] >= 0 && end.size() >= 0 && step == 1) {
            out.set(ax, Dim.of(Math.max(0, end.size() - starts[i])));
          } else if (starts[i] == 0 && step == 1 && end != null && end.size() >= Long.MAX_VALUE / 2) {
            out.set(ax, dim);
          } else {
            out.set(ax, Dim.sym(call.input(0).name() + "_slice_" + ax));
          }
          continue;
        }
        // A null entry is a negative constant end (dimsOf keeps only non-negative dims): use its value.
        long len = sliceLength(dim.size(), starts[i], end == null ? constInts(call, 2)[i] : end.size(), step);
        out.set(ax, Dim.of(len));
      }
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      List<Dim> sv = call.input(0).shapeValue();
      long[] starts = constInts(call, 1);
      long[] ends = constInts(call, 2);
      if (sv == null || starts == null || ends == null || starts.length != 1 || call.count() > 4) {
        return null;
      }
      int n = sv.size();
      int b = (int) clamp(starts[0] < 0 ? starts[0] + n : starts[0], 0, n);
      int e = (int) clamp(ends[0] < 0 ? ends[0] + n : ends[0], 0, n);
      return b <= e ? new ArrayList<>(sv.subList(b, e)) : List.of();
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor x = in.get(0);
      long[] starts = in.get(1).toLongs();
      long[] ends = in.get(2).toLongs();
      long[] axes = in.size() > 3 && in.get(3) != null ? in.get(3).toLongs() : null;
      long[] steps = in.size() > 4 && in.get(4) != null ? in.get(4).toLongs() : null;
      int r = x.rank();
      long[] b = new long[r];
      long[] st = new long[r];
      long[] len = x.shape();
      Arrays.fill(st, 1);
      for (int i = 0; i < starts.length; i++) {
        int ax = (int) (axes == null ? i : axes[i] < 0 ? axes[i] + r : axes[i]);
        long step = steps == null ? 1 : steps[i];
        long dim = x.dim(ax);
        long s0 = starts[i] < 0 ? starts[i] + dim : starts[i];
        s0 = step > 0 ? clamp(s0, 0, dim) : clamp(s0, 0, dim - 1);
        b[ax] = s0;
        st[ax] = step;
        len[ax] = sliceLength(dim, starts[i], ends[i], step);
      }
      double[] d = new double[(int) Tensor.numel(len)];
      long[] xs = Kernels.strides(x.shape());
      long[] idx = new long[r];
      for (int i = 0; i < d.length; i++) {
        long src = 0;
        for (int k = 0; k < r; k++) {
          src += (b[k] + idx[k] * st[k]) * xs[k];
        }
        d[i] = x.data()[(int) src];
        for (int k = r - 1; k >= 0; k--) {
          if (++idx[k] < len[k]) {
            break;
          }
          idx[k] = 0;
        }
      }
      return List.of(new Tensor(x.dtype(), len, d));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      List<Value> none = Arrays.asList(new Value[g.node().inputs().size()]);
      if (dy == null || !g.needs(0)) {
        return none;
      }
      Value x = g.input(0);
      Shape xs = x.shape();
      long[] starts = constantOf(g.input(1));
      long[] ends = constantOf(g.input(2));
      long[] axes = g.input(3) == null ? null : constantOf(g.input(3));
      long[] steps = g.input(4) == null ? null : constantOf(g.input(4));
      long[] pads = new long[2 * xs.rank()];
      for (int i = 0; starts != null && ends != null && i < starts.length; i++) {
        int ax = (int) (axes == null ? i : axes[i] < 0 ? axes[i] + xs.rank() : axes[i]);
        Dim d = xs.dim(ax);
        if (!d.isFixed() || (steps != null && steps[i] != 1)) {
          throw new UnsupportedOperationException("Slice gradient (node " + g.node().name() + ") needs step 1 and "
              + "a fixed size on each sliced axis; axis " + ax + " has size " + d + " and step "
              + (steps == null ? 1 : steps[i]));
        }
        long begin = clamp(starts[i] < 0 ? starts[i] + d.size() : starts[i], 0, d.size());
        long len = sliceLength(d.size(), starts[i], ends[i], 1);
        pads[ax] = begin;
        pads[ax + xs.rank()] = d.size() - begin - len;
      }
      if (starts == null || ends == null) {
        throw new UnsupportedOperationException("Slice gradient (node " + g.node().name()
            + ") needs constant starts and ends");
      }
      // The slice's gradient is dy placed back at its offsets: zero padding on each sliced axis.
      none.set(0, pad(dy, pads));
      return none;
    }

    private long[] constantOf(Value v) {
      return v.constant() == null ? null : v.constant().toLongs();
    }
  };

  static long clamp(long v, long lo, long hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  static long sliceLength(long dim, long start, long end, long step) {
    long s = start < 0 ? start + dim : start;
    long e = end < 0 ? end + dim : end;
    if (step > 0) {
      s = clamp(s, 0, dim);
      e = clamp(e, 0, dim);
      return Math.max(0, (e - s + step - 1) / step);
    }
    s = clamp(s, -1, dim - 1);
    e = clamp(e, -1, dim - 1);
    return Math.max(0, (s - e + (-step) - 1) / (-step));
  }

  static final OpDef GATHER = new OpDef("Gather") {
    @Override
    public List<TensorType> infer(OpCall call) {
      call.requireDType(1, DType.INT64, DType.INT32);
      Shape d = call.shape(0);
      int axis = call.axis(call.attr(AXIS, 0L), d.rank(), "axis");
      List<Dim> out = new ArrayList<>(d.dims().subList(0, axis));
      out.addAll(call.shape(1).dims());
      out.addAll(d.dims().subList(axis + 1, d.rank()));
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      List<Dim> sv = call.input(0).shapeValue();
      long[] idx = constInts(call, 1);
      if (sv == null || idx == null) {
        return null;
      }
      List<Dim> out = new ArrayList<>();
      for (long i : idx) {
        out.add(sv.get((int) (i < 0 ? i + sv.size() : i)));
      }
      return out;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor x = in.get(0);
      Tensor idx = in.get(1);
      int axis = (int) (a.get(AXIS, 0L) < 0 ? a.get(AXIS, 0L) + x.rank() : a.get(AXIS, 0L));
      long outer = 1;
      for (int i = 0; i < axis; i++) {
        outer *= x.dim(i);
      }
      long dimA = x.dim(axis);
      long inner = x.size() / Math.max(1, outer * dimA);
      long[] shape = new long[x.rank() - 1 + idx.rank()];
      int p = 0;
      for (int i = 0; i < axis; i++) {
        shape[p++] = x.dim(i);
      }
      for (long s : idx.shape()) {
        shape[p++] = s;
      }
      for (int i = axis + 1; i < x.rank(); i++) {
        shape[p++] = x.dim(i);
      }
      double[] d = new double[(int) Tensor.numel(shape)];
      int pos = 0;
      for (long o = 0; o < outer; o++) {
        for (int k = 0; k < idx.size(); k++) {
          long j = (long) idx.get(k);
          if (j < 0) {
            j += dimA;
          }
          if (j < 0 || j >= dimA) {
            throw new IndexOutOfBoundsException("Gather index " + (long) idx.get(k) + " out of range for axis size "
                + dimA);
          }
          System.arraycopy(x.data(), (int) ((o * dimA + j) * inner), d, pos, (int) inner);
          pos += inner;
        }
      }
      return List.of(new Tensor(x.dtype(), shape, d));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null || !g.needs(0)) {
        return Arrays.asList(null, null);
      }
      Value data = g.input(0);
      Value idx = g.input(1);
      int axis = (int) (long) g.attr(AXIS, 0L);
      axis = axis < 0 ? axis + data.rank() : axis;
      Dim depth = data.shape().dim(axis);
      if (!depth.isFixed()) {
        throw new UnsupportedOperationException("Gather gradient (node " + g.node().name()
            + ") needs a fixed size on the gathered axis");
      }
      Value hot = cast(oneHot(idx, depth.size()), dy.dtype());
      if (idx.rank() == 0) {
        // Scalar index (e.g. CLS pooling): scatter dy into one slot of the axis by broadcasting.
        long[] hs = new long[data.rank() - axis];
        Arrays.fill(hs, 1);
        hs[0] = depth.size();
        return Arrays.asList(mul(unsqueeze(dy, axis), reshape(hot, hs)), null);
      }
      if (axis != 0) {
        throw new UnsupportedOperationException("Gather gradient (node " + g.node().name()
            + ") supports axis 0 (embedding lookups) or a scalar index; got axis " + axis);
      }
      // Embedding lookup: d table = onehot(idx)^T @ dy, one GEMM, no scatter.
      List<Long> tail = new ArrayList<>();
      long rest = 1;
      for (int i = 1; i < data.rank(); i++) {
        rest *= data.shape().dim(i).size();
        tail.add(data.shape().dim(i).size());
      }
      Value h2 = reshape(hot, -1, depth.size());
      Value dy2 = reshape(dy, -1, rest);
      Value dt = matmul(transpose(h2, 1, 0), dy2);
      return Arrays.asList(reshapeLike(dt, data), null);
    }
  };

  static final OpDef UNSQUEEZE = new OpDef("Unsqueeze") {
    @Override
    public List<TensorType> infer(OpCall call) {
      long[] axes = constInts(call, 1);
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
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

  /** The single dim a rank-0 shape-describing value holds (as from Gather of a Shape), or null. */
  static List<Dim> scalarDims(Value v) {
    if (v.shapeValue() != null && v.shapeValue().size() == 1) {
      return v.shapeValue();
    }
    return null;
  }

  static final OpDef SQUEEZE = new OpDef("Squeeze") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Shape s = call.shape(0);
      long[] axes = call.count() > 1 ? constInts(call, 1) : null;
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
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
      List<Dim> target = dimsOf(call, 1);
      if (target == null || target.stream().anyMatch(java.util.Objects::isNull)) {
        throw call.fail("the target shape must be known when building (constant or shape value)");
      }
      return List.of(call.type(0).withShape(Broadcast.shapes(call, List.of(call.shape(0), Shape.of(target)))));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      return List.of(Kernels.expand(in.get(0), in.get(1).toLongs()));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0) == null ? null : sumToShape(g.grad(0), g.input(0)), null);
    }
  };

  static final OpDef CAST = new OpDef("Cast") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Long to = call.attr(TO);
      if (to == null) {
        throw call.fail("attribute 'to' is required");
      }
      DType target;
      try {
        target = DType.fromOnnxCode(to.intValue());
      } catch (IllegalArgumentException e) {
        throw call.fail("attribute 'to': %s", e.getMessage());
      }
      return List.of(call.type(0).withDType(target));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      return call.input(0).shapeValue();
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      return List.of(in.get(0).cast(DType.fromOnnxCode(a.get(TO).intValue())));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value x = g.input(0);
      if (g.grad(0) == null || !x.dtype().isFloating()) {
        return Arrays.asList((Value) null);
      }
      return Arrays.asList(cast(g.grad(0), x.dtype()));
    }
  };

  static final OpDef SHAPE = new OpDef("Shape") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 1) {
        throw call.fail("expects 1 input, got %d", call.count());
      }
      int[] r = range(call.shape(0).rank(), call.attr(START), call.attr(END));
      return List.of(TensorType.of(DType.INT64, r[1] - r[0]));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      int[] r = range(call.shape(0).rank(), call.attr(START), call.attr(END));
      return call.shape(0).dims().subList(r[0], r[1]);
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      int[] r = range(in.get(0).rank(), a.get(START), a.get(END));
      return List.of(Tensor.longs(Arrays.copyOfRange(in.get(0).shape(), r[0], r[1])));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList((Value) null);
    }

    private int[] range(int rank, Long start, Long end) {
      long s = start == null ? 0 : start < 0 ? start + rank : start;
      long e = end == null ? rank : end < 0 ? end + rank : end;
      return new int[] {(int) clamp(s, 0, rank), (int) Math.max(clamp(e, 0, rank), clamp(s, 0, rank))};
    }
  };

  static final OpDef RANGE = new OpDef("Range") {
    @Override
    public List<TensorType> infer(OpCall call) {
      for (int i = 0; i < 3; i++) {
        call.requireRank(i, 0);
        call.requireSameDType(0, i);
      }
      long[] s = constInts(call, 0);
      long[] l = constInts(call, 1);
      long[] d = constInts(call, 2);
      Dim len;
      List<Dim> lim = scalarDims(call.input(1));
      if (s != null && l != null && d != null) {
        len = Dim.of(Math.max(0, (long) Math.ceil((double) (l[0] - s[0]) / d[0])));
      } else if (s != null && s[0] == 0 && d != null && d[0] == 1 && lim != null) {
        len = lim.get(0);
      } else {
        len = Dim.sym(call.input(1).name() + "_range");
      }
      return List.of(TensorType.of(call.dtype(0), len));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      double s = in.get(0).get(0);
      double l = in.get(1).get(0);
      double d = in.get(2).get(0);
      int n = (int) Math.max(0, Math.ceil((l - s) / d));
      double[] v = new double[n];
      for (int i = 0; i < n; i++) {
        v[i] = s + i * d;
      }
      return List.of(new Tensor(in.get(0).dtype(), new long[] {n}, v));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(null, null, null);
    }
  };

  static final OpDef CONSTANT = new OpDef("Constant") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Tensor v = call.attr(VALUE);
      if (v == null) {
        throw call.fail("attribute 'value' is required");
      }
      return List.of(v.type());
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      Tensor v = call.attr(VALUE);
      if (v.dtype() != DType.INT64 || v.rank() > 1) {
        return null;
      }
      List<Dim> out = new ArrayList<>();
      for (long x : v.toLongs()) {
        if (x < 0) {
          return null;
        }
        out.add(Dim.of(x));
      }
      return out;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      return List.of(a.get(VALUE));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return List.of();
    }
  };

  static final OpDef CONSTANT_OF_SHAPE = new OpDef("ConstantOfShape") {
    @Override
    public List<TensorType> infer(OpCall call) {
      call.requireDType(0, DType.INT64);
      List<Dim> dims = dimsOf(call, 0);
      if (dims == null || dims.stream().anyMatch(java.util.Objects::isNull)) {
        throw call.fail("the shape must be known when building (constant or shape value)");
      }
      Tensor v = call.attr(VALUE);
      DType t = v == null ? DType.FLOAT32 : v.dtype();
      return List.of(new TensorType(t, Shape.of(dims)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor v = a.get(VALUE);
      return List.of(Tensor.full(v == null ? DType.FLOAT32 : v.dtype(), v == null ? 0 : v.get(0),
          in.get(0).toLongs()));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList((Value) null);
    }
  };

  static final OpDef TRILU = new OpDef("Trilu") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.shape(0).rank() < 2) {
        throw call.fail("input must have rank >= 2, got %s", call.shape(0));
      }
      if (call.count() > 1 && call.input(1) != null) {
        call.requireDType(1, DType.INT64);
        call.requireRank(1, 0);
      }
      return List.of(call.type(0));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor x = in.get(0);
      long k = in.size() > 1 && in.get(1) != null ? (long) in.get(1).get(0) : 0;
      boolean upper = a.get(UPPER, 1L) != 0;
      long rows = x.dim(-2);
      long cols = x.dim(-1);
      double[] d = x.data().clone();
      for (int i = 0; i < d.length; i++) {
        long c = i % cols;
        long r = (i / cols) % rows;
        boolean keep = upper ? c - r >= k : c - r <= k;
        if (!keep) {
          d[i] = 0;
        }
      }
      return List.of(new Tensor(x.dtype(), x.shape(), d));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      if (g.grad(0) == null) {
        return Arrays.asList(null, null);
      }
      Value k = g.input(1);
      return Arrays.asList(trilu(g.grad(0), g.attr(UPPER, 1L) != 0, k), null);
    }
  };

  static final OpDef ONE_HOT = new OpDef("OneHot") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 3) {
        throw call.fail("expects indices, depth, values");
      }
      call.requireDType(0, DType.INT64, DType.INT32);
      long[] depth = constInts(call, 1);
      if (depth == null || depth.length != 1) {
        throw call.fail("depth must be a constant scalar");
      }
      call.requireRank(2, 1);
      Shape s = call.shape(0);
      int axis = call.axis(call.attr(AXIS, -1L), s.rank() + 1, "axis");
      List<Dim> out = new ArrayList<>(s.dims());
      out.add(axis, Dim.of(depth[0]));
      return List.of(new TensorType(call.dtype(2), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor idx = in.get(0);
      long depth = (long) in.get(1).get(0);
      double off = in.get(2).get(0);
      double on = in.get(2).get(1);
      int r = idx.rank() + 1;
      long ax = a.get(AXIS, -1L);
      int axis = (int) (ax < 0 ? ax + r : ax);
      long outer = 1;
      for (int i = 0; i < axis; i++) {
        outer *= idx.dim(i);
      }
      long inner = idx.size() / Math.max(outer, 1);
      long[] shape = new long[r];
      int k = 0;
      for (int i = 0; i < r; i++) {
        shape[i] = i == axis ? depth : idx.dim(k++);
      }
      double[] d = new double[(int) Tensor.numel(shape)];
      Arrays.fill(d, off);
      for (long o = 0; o < outer; o++) {
        for (long i = 0; i < inner; i++) {
          long j = (long) idx.get((int) (o * inner + i));
          if (j < 0) {
            j += depth;
          }
          if (j >= 0 && j < depth) {
            d[(int) ((o * depth + j) * inner + i)] = on;
          }
        }
      }
      return List.of(new Tensor(in.get(2).dtype(), shape, d));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(null, null, null);
    }
  };

  /** Constant-mode Pad with constant pads [begin_0, ..., begin_r-1, end_0, ..., end_r-1] (negative pads crop). */
  static final OpDef PAD = new OpDef("Pad") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 2 || call.count() > 3) {
        throw call.fail("expects data, pads and an optional constant value, got %d inputs", call.count());
      }
      call.requireDType(1, DType.INT64);
      Shape s = call.shape(0);
      long[] pads = constInts(call, 1);
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor x = in.get(0);
      long[] pads = in.get(1).toLongs();
      double fill = in.size() > 2 && in.get(2) != null ? in.get(2).get(0) : 0;
      int r = x.rank();
      long[] shape = new long[r];
      for (int i = 0; i < r; i++) {
        shape[i] = x.dim(i) + pads[i] + pads[i + r];
      }
      double[] d = new double[(int) Tensor.numel(shape)];
      long[] xs = Kernels.strides(x.shape());
      long[] idx = new long[r];
      for (int i = 0; i < d.length; i++) {
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
        d[i] = inside ? x.data()[(int) src] : fill;
        for (int k = r - 1; k >= 0; k--) {
          if (++idx[k] < shape[k]) {
            break;
          }
          idx[k] = 0;
        }
      }
      return List.of(new Tensor(x.dtype(), shape, d));
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
