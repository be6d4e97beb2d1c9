package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.twicing.dsl.eval.Kernels;
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

/** Ops that select or join parts of tensors: Concat, Split, Slice and Gather. */
final class Slicing {
  private Slicing() { }

  static final OpDef CONCAT = new OpDef("Concat") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 1) {
        throw call.fail("needs at least one input");
      }
      Shape first = call.shape(0);
      int axis = call.axis(call.attr(Shaping.AXIS, 0L), first.rank(), "axis");
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
          syms.add(d.term());
        }
      }
      Dim total = syms.isEmpty() ? Dim.of(fixed) : Dim.sym(String.join("+", syms) + (fixed > 0 ? "+" + fixed : ""));
      return List.of(call.type(0).withShape(first.with(axis, total)));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      if (call.dtype(0) != DType.INT64 || call.shape(0).rank() != 1) {
        return null;
      }
      List<Dim> out = new ArrayList<>();
      for (int i = 0; i < call.count(); i++) {
        List<Dim> d = Shaping.dimsOf(call, i);
        if (d == null || d.stream().anyMatch(Objects::isNull)) {
          return null;
        }
        out.addAll(d);
      }
      return out;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor first = in.get(0);
      int axis = (int) (a.get(Shaping.AXIS, 0L) < 0 ? a.get(Shaping.AXIS, 0L) + first.rank() : a.get(Shaping.AXIS, 0L));
      long outer = 1;
      for (int i = 0; i < axis; i++) {
        outer *= first.dim(i);
      }
      long[] shape = first.shape();
      shape[axis] = 0;
      for (Tensor t : in) {
        shape[axis] += t.dim(axis);
      }
      Tensor.Builder d = Tensor.builder(first.dtype(), shape);
      int pos = 0;
      for (long o = 0; o < outer; o++) {
        for (Tensor t : in) {
          int chunk = (int) (t.size() / Math.max(outer, 1));
          d.copyFrom(t, (int) (o * chunk), pos, chunk);
          pos += chunk;
        }
      }
      return List.of(d.build());
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      List<Value> out = new ArrayList<>();
      if (dy == null) {
        g.node().inputs().forEach(v -> out.add(null));
        return out;
      }
      int axis = (int) (long) g.attr(Shaping.AXIS, 0L);
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
      int axis = call.axis(call.attr(Shaping.AXIS, 0L), s.rank(), "axis");
      long[] sizes = Shaping.constInts(call, 1);
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      int axis = (int) (a.get(Shaping.AXIS, 0L) < 0 ? a.get(Shaping.AXIS, 0L) + x.rank() : a.get(Shaping.AXIS, 0L));
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
        Tensor.Builder d = Tensor.builder(x.dtype(), shape);
        for (long o = 0; o < outer; o++) {
          d.copyFrom(x, (int) ((o * x.dim(axis) + offset) * inner), (int) (o * k * inner), (int) (k * inner));
        }
        offset += k;
        out.add(d.build());
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
      int axis = (int) (long) g.attr(Shaping.AXIS, 0L);
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
      long[] starts = Shaping.constInts(call, 1);
      long[] axes = call.count() > 3 ? Shaping.constInts(call, 3) : null;
      long[] steps = call.count() > 4 ? Shaping.constInts(call, 4) : null;
      List<Dim> ends = Shaping.dimsOf(call, 2);
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
        // A null entry is a negative constant end (Shaping.dimsOf keeps only non-negative dims): use its value.
        long len = sliceLength(dim.size(), starts[i], end == null ? Shaping.constInts(call, 2)[i] : end.size(), step);
        out.set(ax, Dim.of(len));
      }
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      List<Dim> sv = call.input(0).shapeValue();
      long[] starts = Shaping.constInts(call, 1);
      long[] ends = Shaping.constInts(call, 2);
      if (sv == null || starts == null || ends == null || starts.length != 1 || call.count() > 4) {
        return null;
      }
      int n = sv.size();
      int b = (int) Shaping.clamp(starts[0] < 0 ? starts[0] + n : starts[0], 0, n);
      int e = (int) Shaping.clamp(ends[0] < 0 ? ends[0] + n : ends[0], 0, n);
      return b <= e ? new ArrayList<>(sv.subList(b, e)) : List.of();
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
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
        s0 = step > 0 ? Shaping.clamp(s0, 0, dim) : Shaping.clamp(s0, 0, dim - 1);
        b[ax] = s0;
        st[ax] = step;
        len[ax] = sliceLength(dim, starts[i], ends[i], step);
      }
      Tensor.Builder d = Tensor.builder(x.dtype(), len);
      long[] xs = Kernels.strides(x.shape());
      long[] idx = new long[r];
      for (int i = 0; i < d.size(); i++) {
        long src = 0;
        for (int k = 0; k < r; k++) {
          src += (b[k] + idx[k] * st[k]) * xs[k];
        }
        d.set(i, x.get((int) src));
        for (int k = r - 1; k >= 0; k--) {
          if (++idx[k] < len[k]) {
            break;
          }
          idx[k] = 0;
        }
      }
      return List.of(d.build());
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
        long begin = Shaping.clamp(starts[i] < 0 ? starts[i] + d.size() : starts[i], 0, d.size());
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

  static long sliceLength(long dim, long start, long end, long step) {
    long s = start < 0 ? start + dim : start;
    long e = end < 0 ? end + dim : end;
    if (step > 0) {
      s = Shaping.clamp(s, 0, dim);
      e = Shaping.clamp(e, 0, dim);
      return Math.max(0, (e - s + step - 1) / step);
    }
    s = Shaping.clamp(s, -1, dim - 1);
    e = Shaping.clamp(e, -1, dim - 1);
    return Math.max(0, (s - e + (-step) - 1) / (-step));
  }

  static final OpDef GATHER = new OpDef("Gather") {
    @Override
    public List<TensorType> infer(OpCall call) {
      call.requireDType(1, DType.INT64, DType.INT32);
      Shape d = call.shape(0);
      int axis = call.axis(call.attr(Shaping.AXIS, 0L), d.rank(), "axis");
      List<Dim> out = new ArrayList<>(d.dims().subList(0, axis));
      out.addAll(call.shape(1).dims());
      out.addAll(d.dims().subList(axis + 1, d.rank()));
      return List.of(call.type(0).withShape(Shape.of(out)));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      List<Dim> sv = call.input(0).shapeValue();
      long[] idx = Shaping.constInts(call, 1);
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      Tensor idx = in.get(1);
      int axis = (int) (a.get(Shaping.AXIS, 0L) < 0 ? a.get(Shaping.AXIS, 0L) + x.rank() : a.get(Shaping.AXIS, 0L));
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
      Tensor.Builder d = Tensor.builder(x.dtype(), shape);
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
          d.copyFrom(x, (int) ((o * dimA + j) * inner), pos, (int) inner);
          pos += inner;
        }
      }
      return List.of(d.build());
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null || !g.needs(0)) {
        return Arrays.asList(null, null);
      }
      Value data = g.input(0);
      Value idx = g.input(1);
      int axis = (int) (long) g.attr(Shaping.AXIS, 0L);
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
      long rest = 1;
      for (int i = 1; i < data.rank(); i++) {
        rest *= data.shape().dim(i).size();
      }
      Value h2 = reshape(hot, -1, depth.size());
      Value dy2 = reshape(dy, -1, rest);
      Value dt = matmul(transpose(h2, 1, 0), dy2);
      return Arrays.asList(reshapeLike(dt, data), null);
    }
  };
}
