package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;

import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Neural-network ops with ONNX kernels of their own: LayerNormalization and Dropout. */
final class Nn {
  private Nn() { }

  static final Attr<Long> AXIS = Attr.integer("axis");
  static final Attr<Double> EPSILON = Attr.real("epsilon");
  static final Attr<Long> SEED = Attr.integer("seed");

  static final OpDef LAYER_NORM = new OpDef("LayerNormalization") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 2 || call.count() > 3) {
        throw call.fail("expects X, Scale and optional B, got %d inputs", call.count());
      }
      call.requireFloat(0);
      Shape x = call.shape(0);
      int axis = call.axis(call.attr(AXIS, -1L), x.rank(), "axis");
      Shape norm = x.slice(axis, x.rank());
      for (int i = 1; i < call.count(); i++) {
        call.requireSameDType(0, i);
        if (!call.shape(i).equals(norm)) {
          throw call.fail("input %d '%s' has shape %s, expected the normalised shape %s", i, call.input(i).name(),
              call.shape(i), norm);
        }
      }
      return List.of(call.type(0));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor x = in.get(0);
      long ax = a.get(AXIS, -1L);
      int axis = (int) (ax < 0 ? ax + x.rank() : ax);
      double eps = a.get(EPSILON, 1e-5);
      long inner = 1;
      for (int i = axis; i < x.rank(); i++) {
        inner *= x.dim(i);
      }
      double[] d = x.data();
      double[] y = new double[d.length];
      for (int o = 0; o < d.length / inner; o++) {
        double mean = 0;
        for (int i = 0; i < inner; i++) {
          mean += d[(int) (o * inner + i)];
        }
        mean /= inner;
        double var = 0;
        for (int i = 0; i < inner; i++) {
          double c = d[(int) (o * inner + i)] - mean;
          var += c * c;
        }
        var /= inner;
        double inv = 1 / Math.sqrt(var + eps);
        for (int i = 0; i < inner; i++) {
          int k = (int) (o * inner + i);
          y[k] = (d[k] - mean) * inv * in.get(1).get(i) + (in.size() > 2 ? in.get(2).get(i) : 0);
        }
      }
      return List.of(new Tensor(x.dtype(), x.shape(), y).roundedToDType());
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList(null, null, null);
      }
      Value x = g.input(0);
      Value scale = g.input(1);
      long ax = g.attr(AXIS, -1L);
      int axis = (int) (ax < 0 ? ax + x.rank() : ax);
      long[] axes = new long[x.rank() - axis];
      for (int i = 0; i < axes.length; i++) {
        axes[i] = axis + i;
      }
      long[] lead = new long[axis];
      for (int i = 0; i < axis; i++) {
        lead[i] = i;
      }
      double eps = g.attr(EPSILON, 1e-5);
      // Recompute the statistics rather than exporting them from the forward node, which keeps the inference
      // graph's LayerNormalization single-output (as TensorRT and other consumers expect).
      Value mean = reduceMean(x, true, axes);
      Value xc = sub(x, mean);
      Value var = reduceMean(mul(xc, xc), true, axes);
      Value inv = div(scalarLike(x, 1.0), sqrt(add(var, scalarLike(x, eps))));
      Value xhat = mul(xc, inv);
      Value dx = null;
      if (g.needs(0)) {
        Value dxhat = mul(dy, scale);
        Value m1 = reduceMean(dxhat, true, axes);
        Value m2 = reduceMean(mul(dxhat, xhat), true, axes);
        dx = mul(inv, sub(sub(dxhat, m1), mul(xhat, m2)));
      }
      Value dscale = g.needs(1) ? reduceSum(mul(dy, xhat), false, lead) : null;
      Value dbias = g.input(2) != null && g.needs(2) ? reduceSum(dy, false, lead) : null;
      return Arrays.asList(dx, dscale, dbias);
    }
  };

  /**
   * Dropout in training mode, outputs (output, mask). Inference graphs never contain it. The reference semantics
   * draw the mask from the node's seed, so they agree with ONNX Runtime only in distribution, not bit for bit.
   */
  static final OpDef DROPOUT = new OpDef("Dropout") {
    @Override
    public List<TensorType> infer(OpCall call) {
      call.requireFloat(0);
      if (call.count() > 1 && call.input(1) != null) {
        call.requireRank(1, 0);
        call.requireFloat(1);
      }
      if (call.count() > 2 && call.input(2) != null) {
        call.requireDType(2, DType.BOOL);
      }
      return List.of(call.type(0), call.type(0).withDType(DType.BOOL));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      Tensor x = in.get(0);
      double ratio = in.size() > 1 && in.get(1) != null ? in.get(1).get(0) : 0.5;
      boolean training = in.size() > 2 && in.get(2) != null && in.get(2).get(0) != 0;
      double[] y = new double[x.size()];
      double[] m = new double[x.size()];
      Random rng = new Random(a.get(SEED, 0L));
      for (int i = 0; i < y.length; i++) {
        boolean keep = !training || ratio == 0 || rng.nextDouble() >= ratio;
        m[i] = keep ? 1 : 0;
        y[i] = keep ? (training ? x.get(i) / (1 - ratio) : x.get(i)) : 0;
      }
      return List.of(new Tensor(x.dtype(), x.shape(), y).roundedToDType(), new Tensor(DType.BOOL, x.shape(), m));
    }

    @Override
    public boolean isRandom() {
      return true;
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList(null, null, null);
      }
      Value ratio = g.input(1);
      Value keepScale = div(scalarLike(dy, 1.0), sub(scalarLike(dy, 1.0), ratio));
      return Arrays.asList(mul(mul(dy, cast(g.output(1), dy.dtype())), keepScale), null, null);
    }
  };

}
