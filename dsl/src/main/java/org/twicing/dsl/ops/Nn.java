package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Rounding;
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
      // Outputs 1 and 2 are ONNX's optional Mean and InvStdDev: X's shape with the normalised axes kept as 1.
      List<Dim> stats = new ArrayList<>(x.dims());
      for (int i = axis; i < x.rank(); i++) {
        stats.set(i, Dim.of(1));
      }
      TensorType statsType = new TensorType(call.dtype(0), Shape.of(stats));
      return List.of(call.type(0), statsType, statsType);
    }

    @Override
    public int requiredOutputs(Attributes attributes) {
      // Inference graphs read only Y, so the emitter leaves Mean and InvStdDev out there (TensorRT's
      // LayerNormalization has a single output); training graphs read them in the backward.
      return 1;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      long ax = a.get(AXIS, -1L);
      int axis = (int) (ax < 0 ? ax + x.rank() : ax);
      double eps = a.get(EPSILON, 1e-5);
      long inner = 1;
      for (int i = axis; i < x.rank(); i++) {
        inner *= x.dim(i);
      }
      Tensor.Builder y = Tensor.builder(x.dtype(), x.shape());
      long[] statsShape = x.shape().clone();
      for (int i = axis; i < statsShape.length; i++) {
        statsShape[i] = 1;
      }
      Tensor.Builder means = Tensor.builder(x.dtype(), statsShape);
      Tensor.Builder invs = Tensor.builder(x.dtype(), statsShape);
      for (int o = 0; o < x.size() / inner; o++) {
        double mean = 0;
        for (int i = 0; i < inner; i++) {
          mean += x.get((int) (o * inner + i));
        }
        mean /= inner;
        double var = 0;
        for (int i = 0; i < inner; i++) {
          double c = x.get((int) (o * inner + i)) - mean;
          var += c * c;
        }
        var /= inner;
        double inv = 1 / Math.sqrt(var + eps);
        means.set(o, mean);
        invs.set(o, inv);
        for (int i = 0; i < inner; i++) {
          int k = (int) (o * inner + i);
          y.set(k, (x.get(k) - mean) * inv * in.get(1).get(i) + (in.size() > 2 ? in.get(2).get(i) : 0));
        }
      }
      return List.of(y.build(rounding), means.build(rounding), invs.build(rounding));
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
      // The statistics come from the forward node's optional Mean and InvStdDev outputs, as PyTorch saves mean
      // and rstd: recomputing them would cost two reductions and four passes over X per LayerNorm. Outputs nothing
      // reads are left out of the emitted node, so inference graphs keep a single-output LayerNormalization.
      Value inv = g.output(2);
      Value xhat = mul(sub(x, g.output(1)), inv);
      Value dx = null;
      if (g.needs(0)) {
        dx = normalizedInputGradient(mul(dy, scale), xhat, inv, axes);
      }
      Value dscale = g.needs(1) ? reduceSum(mul(dy, xhat), false, lead) : null;
      Value dbias = g.input(2) != null && g.needs(2) ? reduceSum(dy, false, lead) : null;
      return Arrays.asList(dx, dscale, dbias);
    }

    @Override
    public Graph primitives(Node node, int opset) {
      long ax = node.attributes().get(AXIS, -1L);
      int rank = node.input(0).rank();
      int axis = (int) (ax < 0 ? ax + rank : ax);
      long[] axes = new long[rank - axis];
      for (int i = 0; i < axes.length; i++) {
        axes[i] = axis + i;
      }
      double eps = node.attributes().get(EPSILON, 1e-5);
      // The two-pass mean and variance that ONNX Runtime's kernel computes, in float32 like it; outputs are Y, Mean
      // and InvStdDev as the fused op's.
      return decomposeWith(node, ins -> {
        Value x = ins.get(0);
        Value mean = reduceMean(x, true, axes);
        Value d = sub(x, mean);
        Value var = reduceMean(mul(d, d), true, axes);
        Value inv = div(scalarLike(x, 1.0), sqrt(add(var, scalarLike(x, eps))));
        Value y = mul(mul(d, inv), ins.get(1));
        if (ins.size() > 2 && ins.get(2) != null) {
          y = add(y, ins.get(2));
        }
        return List.of(y, mean, inv);
      });
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
    public int requiredOutputs(Attributes attributes) {
      return 1;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      double ratio = in.size() > 1 && in.get(1) != null ? in.get(1).get(0) : 0.5;
      boolean training = in.size() > 2 && in.get(2) != null && in.get(2).get(0) != 0;
      Tensor.Builder y = Tensor.builder(x.dtype(), x.shape());
      Tensor.Builder m = Tensor.builder(DType.BOOL, x.shape());
      Random rng = new Random(a.get(SEED, 0L));
      for (int i = 0; i < y.size(); i++) {
        boolean keep = !training || ratio == 0 || rng.nextDouble() >= ratio;
        m.set(i, keep ? 1 : 0);
        y.set(i, keep ? (training ? x.get(i) / (1 - ratio) : x.get(i)) : 0);
      }
      return List.of(y.build(rounding), m.build());
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

  static final Attr<Double> MOMENTUM = Attr.real("momentum");
  static final Attr<Long> TRAINING_MODE = Attr.integer("training_mode");

  /** Axes (0, 2, 3, ...) over which BatchNormalization's statistics run: all but the channel axis 1. */
  private static long[] statAxes(int rank) {
    long[] axes = new long[rank - 1];
    for (int i = 1; i < axes.length; i++) {
      axes[i] = i + 1;
    }
    return axes;
  }

  /** A per-channel [C] value shaped to broadcast against (N, C, spatial...) of rank {@code rank}. */
  private static Value perChannel(Value v, int rank) {
    if (rank <= 2) {
      return v;
    }
    long[] axes = new long[rank - 2];
    for (int i = 0; i < axes.length; i++) {
      axes[i] = i + 1;
    }
    return unsqueeze(v, axes);
  }

  /**
   * BatchNormalization (opset 15 form): X (N, C, spatial...), scale, B, input_mean, input_var, all [C]. Inference
   * mode (training_mode=0, one output) normalises with the given running statistics. Training mode (three outputs)
   * normalises with the batch statistics (biased variance, as ONNX specifies) and outputs the updated running mean
   * and variance, input * momentum + batch * (1 - momentum). Inference mode lowers to the native node; training
   * mode lowers to its formula, because ONNX Runtime's CPU kernel (1.29) gives a wrong Y in training mode when one
   * tensor feeds several of its inputs and the running statistics are unread (OpParityTest has the case), and
   * TensorRT has no training mode.
   */
  static final OpDef BATCH_NORM = new OpDef("BatchNormalization") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 5) {
        throw call.fail("expects 5 inputs (X, scale, B, input_mean, input_var), got %d", call.count());
      }
      call.requireFloat(0);
      Shape x = call.shape(0);
      if (x.rank() < 2) {
        throw call.fail("X '%s' must have rank >= 2 (N, C, ...), got shape %s", call.input(0).name(), x);
      }
      String[] names = {"X", "scale", "B", "input_mean", "input_var"};
      for (int i = 1; i < 5; i++) {
        if (call.input(i) == null) {
          throw call.fail("input %s is required", names[i]);
        }
        call.requireSameDType(0, i);
        Shape s = call.shape(i);
        if (s.rank() != 1 || (s.dim(0).isFixed() && x.dim(1).isFixed() && s.dim(0).size() != x.dim(1).size())) {
          throw call.fail("%s '%s' has shape %s, expected [%s] (one entry per channel of X%s)", names[i],
              call.input(i).name(), s, x.dim(1), x);
        }
      }
      long mode = call.attr(TRAINING_MODE, 0L);
      if (mode != 0 && mode != 1) {
        throw call.fail("training_mode must be 0 or 1, got %d", mode);
      }
      if (mode == 0) {
        return List.of(call.type(0));
      }
      return List.of(call.type(0), call.type(3), call.type(4));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      double eps = a.get(EPSILON, 1e-5);
      double mom = a.get(MOMENTUM, 0.9);
      boolean training = a.get(TRAINING_MODE, 0L) != 0;
      int n = (int) x.dim(0);
      int c = (int) x.dim(1);
      int inner = x.size() / Math.max(1, n * c);
      double[] mean = new double[c];
      double[] var = new double[c];
      for (int ch = 0; ch < c; ch++) {
        if (training) {
          double m = 0;
          for (int b = 0; b < n; b++) {
            for (int i = 0; i < inner; i++) {
              m += x.get((b * c + ch) * inner + i);
            }
          }
          m /= (double) n * inner;
          double v = 0;
          for (int b = 0; b < n; b++) {
            for (int i = 0; i < inner; i++) {
              double d = x.get((b * c + ch) * inner + i) - m;
              v += d * d;
            }
          }
          mean[ch] = m;
          var[ch] = v / ((double) n * inner);
        } else {
          mean[ch] = in.get(3).get(ch);
          var[ch] = in.get(4).get(ch);
        }
      }
      Tensor.Builder y = Tensor.builder(x.dtype(), x.shape());
      for (int b = 0; b < n; b++) {
        for (int ch = 0; ch < c; ch++) {
          double inv = 1 / Math.sqrt(var[ch] + eps);
          for (int i = 0; i < inner; i++) {
            int k = (b * c + ch) * inner + i;
            y.set(k, (x.get(k) - mean[ch]) * inv * in.get(1).get(ch) + in.get(2).get(ch));
          }
        }
      }
      Tensor yt = y.build(rounding);
      if (!training) {
        return List.of(yt);
      }
      long[] cs = {c};
      Tensor.Builder rm = Tensor.builder(x.dtype(), cs);
      Tensor.Builder rv = Tensor.builder(x.dtype(), cs);
      for (int ch = 0; ch < c; ch++) {
        rm.set(ch, in.get(3).get(ch) * mom + mean[ch] * (1 - mom));
        rv.set(ch, in.get(4).get(ch) * mom + var[ch] * (1 - mom));
      }
      return List.of(yt, rm.build(rounding), rv.build(rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value x = g.input(0);
      int r = x.rank();
      long[] axes = statAxes(r);
      double eps = g.attr(EPSILON, 1e-5);
      double mom = g.attr(MOMENTUM, 0.9);
      boolean training = g.attr(TRAINING_MODE, 0L) != 0;
      Value dy = g.grad(0);
      Value scale = perChannel(g.input(1), r);
      Value[] out = new Value[5];
      if (!training) {
        if (dy == null) {
          return Arrays.asList(out);
        }
        // y = (x - mean) inv scale + b with inv = (var + eps)^-1/2 all given: a per-channel affine map of x.
        Value inv1 = div(scalarLike(x, 1.0), sqrt(add(g.input(4), scalarLike(x, eps))));
        Value inv = perChannel(inv1, r);
        Value xc = sub(x, perChannel(g.input(3), r));
        Value sumDy = reduceSum(dy, false, axes);
        Value sumDyXc = reduceSum(mul(dy, xc), false, axes);
        out[0] = g.needs(0) ? mul(dy, mul(scale, inv)) : null;
        out[1] = g.needs(1) ? mul(sumDyXc, inv1) : null;
        out[2] = g.needs(2) ? sumDy : null;
        out[3] = g.needs(3) ? neg(mul(sumDy, mul(g.input(1), inv1))) : null;
        out[4] = g.needs(4) ? mul(mul(sumDyXc, g.input(1)), mul(scalarLike(x, -0.5), mul(inv1, mul(inv1, inv1))))
            : null;
        return Arrays.asList(out);
      }
      // Training mode: statistics are functions of x. Recompute them (as LayerNormalization's rule does).
      Value mean = reduceMean(x, true, axes);
      Value xc = sub(x, mean);
      Value var = reduceMean(mul(xc, xc), true, axes);
      Value inv = div(scalarLike(x, 1.0), sqrt(add(var, scalarLike(x, eps))));
      Value xhat = mul(xc, inv);
      Value dx = null;
      if (dy != null) {
        dx = normalizedInputGradient(mul(dy, scale), xhat, inv, axes);
        out[1] = g.needs(1) ? reduceSum(mul(dy, xhat), false, axes) : null;
        out[2] = g.needs(2) ? reduceSum(dy, false, axes) : null;
      }
      // running_mean = input_mean mom + mean (1 - mom); running_var = input_var mom + var (1 - mom), where
      // d mean / dx = 1/M and d var / dx = 2 (x - mean) / M per channel.
      Value gm = g.grad(1);
      Value gv = g.grad(2);
      Value count = null;
      if (gm != null || gv != null) {
        Value m = x.shape().isFixed() ? scalarLike(x, x.shape().numel() / (double) x.shape().dim(1).size())
            : reduceSum(add(zerosLike(x), scalarLike(x, 1.0)), true, axes);
        count = div(m, scalarLike(x, 1.0 - mom));
      }
      if (gm != null) {
        Value t = div(perChannel(gm, r), count);
        dx = dx == null ? expandLike(t, x) : add(dx, t);
        out[3] = g.needs(3) ? mul(gm, scalarLike(gm, mom)) : null;
      }
      if (gv != null) {
        Value t = mul(div(perChannel(gv, r), count), mul(xc, scalarLike(x, 2.0)));
        dx = dx == null ? t : add(dx, t);
        out[4] = g.needs(4) ? mul(gv, scalarLike(gv, mom)) : null;
      }
      out[0] = g.needs(0) ? dx : null;
      return Arrays.asList(out);
    }

    @Override
    public Graph decompose(Node node, int opset) {
      if (node.attributes().get(TRAINING_MODE, 0L) == 0) {
        return null;
      }
      double eps = node.attributes().get(EPSILON, 1e-5);
      double mom = node.attributes().get(MOMENTUM, 0.9);
      return decomposeWith(node, in -> {
        Value x = in.get(0);
        int r = x.rank();
        long[] axes = statAxes(r);
        Value mean = reduceMean(x, true, axes);
        Value xc = sub(x, mean);
        Value var = reduceMean(mul(xc, xc), true, axes);
        Value y = add(mul(div(xc, sqrt(add(var, scalarLike(x, eps)))), perChannel(in.get(1), r)),
            perChannel(in.get(2), r));
        Value m = scalarLike(x, mom);
        Value m1 = scalarLike(x, 1 - mom);
        Value runMean = add(mul(in.get(3), m), mul(reshape(mean, -1), m1));
        Value runVar = add(mul(in.get(4), m), mul(reshape(var, -1), m1));
        return List.of(y, runMean, runVar);
      });
    }
  };
}
