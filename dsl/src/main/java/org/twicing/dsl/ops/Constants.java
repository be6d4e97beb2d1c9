package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.CoreOps;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.Graph;
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
 * Ops that make tensors from attributes, shapes or types rather than from input data: Cast, Shape, Range,
 * Constant, ConstantOfShape, Trilu and OneHot.
 */
final class Constants {
  private Constants() { }

  static final OpDef CAST = new OpDef("Cast") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Long to = call.attr(Shaping.TO);
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(in.get(0).cast(DType.fromOnnxCode(a.get(Shaping.TO).intValue()), rounding));
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
      int[] r = range(call.shape(0).rank(), call.attr(Shaping.START), call.attr(Shaping.END));
      return List.of(TensorType.of(DType.INT64, r[1] - r[0]));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      int[] r = range(call.shape(0).rank(), call.attr(Shaping.START), call.attr(Shaping.END));
      return call.shape(0).dims().subList(r[0], r[1]);
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      int[] r = range(in.get(0).rank(), a.get(Shaping.START), a.get(Shaping.END));
      return List.of(Tensor.longs(Arrays.copyOfRange(in.get(0).shape(), r[0], r[1])));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList((Value) null);
    }

    private int[] range(int rank, Long start, Long end) {
      long s = start == null ? 0 : start < 0 ? start + rank : start;
      long e = end == null ? rank : end < 0 ? end + rank : end;
      return new int[] {(int) Shaping.clamp(s, 0, rank),
          (int) Math.max(Shaping.clamp(e, 0, rank), Shaping.clamp(s, 0, rank))};
    }
  };

  static final OpDef RANGE = new OpDef("Range") {
    @Override
    public List<TensorType> infer(OpCall call) {
      for (int i = 0; i < 3; i++) {
        call.requireRank(i, 0);
        call.requireSameDType(0, i);
      }
      long[] s = Shaping.constInts(call, 0);
      long[] l = Shaping.constInts(call, 1);
      long[] d = Shaping.constInts(call, 2);
      Dim len;
      List<Dim> lim = Shaping.scalarDims(call.input(1));
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      double s = in.get(0).get(0);
      double l = in.get(1).get(0);
      double d = in.get(2).get(0);
      int n = (int) Math.max(0, Math.ceil((l - s) / d));
      return List.of(Tensor.build(in.get(0).dtype(), new long[] {n}, i -> s + i * d));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(null, null, null);
    }
  };

  // Defined with the IR (ir.CoreOps) because the graph builder creates Constant nodes itself.
  static final OpDef CONSTANT = CoreOps.CONSTANT;

  static final OpDef CONSTANT_OF_SHAPE = new OpDef("ConstantOfShape") {
    @Override
    public List<TensorType> infer(OpCall call) {
      call.requireDType(0, DType.INT64);
      List<Dim> dims = Shaping.dimsOf(call, 0);
      if (dims == null || dims.stream().anyMatch(Objects::isNull)) {
        throw call.fail("the shape must be known when building (constant or shape value)");
      }
      Tensor v = call.attr(Shaping.VALUE);
      DType t = v == null ? DType.FLOAT32 : v.dtype();
      return List.of(new TensorType(t, Shape.of(dims)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor v = a.get(Shaping.VALUE);
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
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      long k = in.size() > 1 && in.get(1) != null ? (long) in.get(1).get(0) : 0;
      boolean upper = a.get(Shaping.UPPER, 1L) != 0;
      long rows = x.dim(-2);
      long cols = x.dim(-1);
      return List.of(Tensor.build(x.dtype(), x.shape(), i -> {
        long c = i % cols;
        long r = (i / cols) % rows;
        boolean keep = upper ? c - r >= k : c - r <= k;
        return keep ? x.get(i) : 0;
      }));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      if (g.grad(0) == null) {
        return Arrays.asList(null, null);
      }
      Value k = g.input(1);
      return Arrays.asList(trilu(g.grad(0), g.attr(Shaping.UPPER, 1L) != 0, k), null);
    }
  };

  static final OpDef ONE_HOT = new OpDef("OneHot") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 3) {
        throw call.fail("expects indices, depth, values");
      }
      call.requireDType(0, DType.INT64, DType.INT32);
      long[] depth = Shaping.constInts(call, 1);
      if (depth == null || depth.length != 1) {
        throw call.fail("depth must be a constant scalar");
      }
      call.requireRank(2, 1);
      Shape s = call.shape(0);
      int axis = call.axis(call.attr(Shaping.AXIS, -1L), s.rank() + 1, "axis");
      List<Dim> out = new ArrayList<>(s.dims());
      out.add(axis, Dim.of(depth[0]));
      return List.of(new TensorType(call.dtype(2), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor idx = in.get(0);
      long depth = (long) in.get(1).get(0);
      double off = in.get(2).get(0);
      double on = in.get(2).get(1);
      int r = idx.rank() + 1;
      long ax = a.get(Shaping.AXIS, -1L);
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
      Tensor.Builder d = Tensor.builder(in.get(2).dtype(), shape).fill(off);
      for (long o = 0; o < outer; o++) {
        for (long i = 0; i < inner; i++) {
          long j = (long) idx.get((int) (o * inner + i));
          if (j < 0) {
            j += depth;
          }
          if (j >= 0 && j < depth) {
            d.set((int) ((o * depth + j) * inner + i), on);
          }
        }
      }
      return List.of(d.build());
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(null, null, null);
    }

    /**
     * Indices compared with a range of the depth (Equal), then cast: ONNX Runtime 1.29's OneHot kernel takes about
     * 4.6× as long (0.51 against 0.11 ms for [16, 128] indices and depth 256, once in the loss and once in each
     * embedding gradient of lm-tiny). Negative indices wrap as OneHot's do, out-of-range ones give all "off".
     * Kept as OneHot when the depth or the values are not constants.
     */
    @Override
    public Graph primitives(Node node, int opset) {
      Tensor depthT = node.input(1).constant();
      Tensor offOn = node.input(2).constant();
      if (depthT == null || offOn == null || offOn.size() != 2) {
        return null;
      }
      long depth = (long) depthT.get(0);
      double off = offOn.get(0);
      double on = offOn.get(1);
      DType out = offOn.dtype();
      int rank = node.input(0).rank() + 1;
      long ax = node.attributes().get(Shaping.AXIS, -1L);
      int axis = (int) (ax < 0 ? ax + rank : ax);
      return decomposeWith(node, ins -> {
        Value idx = ins.get(0);
        DType it = idx.dtype();
        Value wrapped = where(less(idx, constantLike(idx, Tensor.scalar(it, 0))),
            add(idx, constantLike(idx, Tensor.scalar(it, depth))), idx);
        long[] rangeShape = new long[rank - axis];
        Arrays.fill(rangeShape, 1);
        rangeShape[0] = depth;
        Tensor.Builder range = Tensor.builder(it, rangeShape);
        for (int i = 0; i < depth; i++) {
          range.set(i, i);
        }
        Value hot = cast(equal(unsqueeze(wrapped, axis), constantLike(idx, range.build())), out);
        if (off == 0 && on == 1) {
          return List.of(hot);
        }
        return List.of(add(mul(hot, constantLike(idx, Tensor.scalar(out, on - off))),
            constantLike(idx, Tensor.scalar(out, off))));
      });
    }
  };
}
