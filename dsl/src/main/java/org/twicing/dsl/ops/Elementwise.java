package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attr;
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
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Elementwise ops, table-driven: each row is the ONNX type, the float64 function, and the gradient rule. Unary
 * ops keep their operand's type; binary arithmetic broadcasts like numpy; comparisons give bool.
 */
final class Elementwise {
  private Elementwise() { }

  /** Gelu's {@code approximate} attribute: "none" (exact, erf) or "tanh". */
  static final Attr<String> APPROXIMATE = Attr.string("approximate");

  /** A unary op: {@code y = f(x)}; {@code grad} builds dx from the call. */
  static class Unary extends OpDef {
    private final DoubleUnaryOperator f;
    private final Function<GradCall, Value> grad;
    private final boolean floatOnly;

    Unary(String onnxType, boolean floatOnly, DoubleUnaryOperator f, Function<GradCall, Value> grad) {
      super(onnxType);
      this.floatOnly = floatOnly;
      this.f = f;
      this.grad = grad;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 1) {
        throw call.fail("expects 1 input, got %d", call.count());
      }
      if (floatOnly) {
        call.requireFloat(0);
      } else if (!call.dtype(0).isNumeric()) {
        throw call.fail("input '%s' has dtype %s, expected a numeric type", call.input(0).name(), call.dtype(0));
      }
      return List.of(call.type(0));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(Kernels.map(in.get(0), in.get(0).dtype(), f, rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0) == null ? null : grad.apply(g));
    }
  }

  /** A broadcasting binary arithmetic op. */
  static final class Binary extends OpDef {
    private final DoubleBinaryOperator f;
    private final Function<GradCall, Value> gradA;
    private final Function<GradCall, Value> gradB;

    Binary(String onnxType, DoubleBinaryOperator f, Function<GradCall, Value> gradA,
        Function<GradCall, Value> gradB) {
      super(onnxType);
      this.f = f;
      this.gradA = gradA;
      this.gradB = gradB;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 2) {
        throw call.fail("expects 2 inputs, got %d", call.count());
      }
      call.requireSameDType(0, 1);
      if (!call.dtype(0).isNumeric()) {
        throw call.fail("dtype %s is not numeric", call.dtype(0));
      }
      return List.of(new TensorType(call.dtype(0), Broadcast.shapes(call, List.of(call.shape(0), call.shape(1)))));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      DType t = in.get(0).dtype();
      DoubleBinaryOperator op = f;
      if (t.isInteger() && onnxType().equals("Div")) {
        op = (x, y) -> (double) ((long) x / (long) y);
      }
      return List.of(Kernels.zip(in.get(0), in.get(1), t, op, rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      if (g.grad(0) == null) {
        return Arrays.asList(null, null);
      }
      Value da = g.needs(0) ? sumToShape(gradA.apply(g), g.input(0)) : null;
      Value db = g.needs(1) ? sumToShape(gradB.apply(g), g.input(1)) : null;
      return Arrays.asList(da, db);
    }
  }

  /** A broadcasting comparison giving bool. */
  static final class Compare extends OpDef {
    private final DoubleBinaryOperator f;

    Compare(String onnxType, DoubleBinaryOperator f) {
      super(onnxType);
      this.f = f;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 2) {
        throw call.fail("expects 2 inputs, got %d", call.count());
      }
      call.requireSameDType(0, 1);
      return List.of(new TensorType(DType.BOOL, Broadcast.shapes(call, List.of(call.shape(0), call.shape(1)))));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(Kernels.zip(in.get(0), in.get(1), DType.BOOL, f, rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(null, null);
    }
  }

  private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);

  static final OpDef NEG = new Unary("Neg", false, x -> -x, g -> neg(g.grad(0)));
  static final OpDef SQRT = new Unary("Sqrt", true, Math::sqrt,
      g -> div(g.grad(0), mul(g.output(0), scalarLike(g.output(0), 2.0))));
  static final OpDef EXP = new Unary("Exp", true, Math::exp, g -> mul(g.grad(0), g.output(0)));
  static final OpDef LOG = new Unary("Log", true, Math::log, g -> div(g.grad(0), g.input(0)));
  static final OpDef TANH = new Unary("Tanh", true, Math::tanh,
      g -> mul(g.grad(0), sub(scalarLike(g.output(0), 1.0), mul(g.output(0), g.output(0)))));
  static final OpDef ERF = new Unary("Erf", true, Kernels::erf,
      g -> mul(g.grad(0), mul(scalarLike(g.input(0), TWO_OVER_SQRT_PI),
          exp(neg(mul(g.input(0), g.input(0)))))));
  static final OpDef RELU = new Unary("Relu", false, x -> Math.max(x, 0),
      g -> where(greater(g.input(0), scalarLike(g.input(0), 0.0)), g.grad(0), scalarLike(g.grad(0), 0.0)));
  static final OpDef SIGMOID = new Unary("Sigmoid", true, x -> 1 / (1 + Math.exp(-x)),
      g -> mul(g.grad(0), mul(g.output(0), sub(scalarLike(g.output(0), 1.0), g.output(0)))));
  // Defined with the IR (ir.CoreOps) because the graph builder names outputs with Identity nodes itself.
  static final OpDef IDENTITY = CoreOps.IDENTITY;

  static final OpDef ADD = new Binary("Add", Double::sum, GradCall::grad0, GradCall::grad0);
  static final OpDef SUB = new Binary("Sub", (x, y) -> x - y, GradCall::grad0, g -> neg(g.grad(0)));
  static final OpDef MUL = new Binary("Mul", (x, y) -> x * y,
      g -> mul(g.grad(0), g.input(1)), g -> mul(g.grad(0), g.input(0)));
  static final OpDef DIV = new Binary("Div", (x, y) -> x / y,
      g -> div(g.grad(0), g.input(1)), g -> neg(div(mul(g.grad(0), g.output(0)), g.input(1))));
  static final OpDef POW = new Binary("Pow", Math::pow,
      g -> mul(g.grad(0), mul(g.input(1), pow(g.input(0), sub(g.input(1), scalarLike(g.input(1), 1.0))))),
      g -> mul(g.grad(0), mul(g.output(0), log(g.input(0)))));

  static final OpDef EQUAL = new Compare("Equal", (x, y) -> x == y ? 1 : 0);
  static final OpDef LESS = new Compare("Less", (x, y) -> x < y ? 1 : 0);
  static final OpDef GREATER = new Compare("Greater", (x, y) -> x > y ? 1 : 0);

  /** Where(cond, x, y): broadcasting select. */
  static final OpDef WHERE = new OpDef("Where") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 3) {
        throw call.fail("expects 3 inputs (condition, x, y), got %d", call.count());
      }
      call.requireDType(0, DType.BOOL);
      call.requireSameDType(1, 2);
      return List.of(new TensorType(call.dtype(1),
          Broadcast.shapes(call, List.of(call.shape(0), call.shape(1), call.shape(2)))));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(Kernels.zipN(in, in.get(1).dtype(), v -> v[0] != 0 ? v[1] : v[2], rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      if (g.grad(0) == null) {
        return Arrays.asList(null, null, null);
      }
      Value zero = scalarLike(g.grad(0), 0.0);
      Value dx = g.needs(1) ? sumToShape(where(g.input(0), g.grad(0), zero), g.input(1)) : null;
      Value dy = g.needs(2) ? sumToShape(where(g.input(0), zero, g.grad(0)), g.input(2)) : null;
      return Arrays.asList(null, dx, dy);
    }
  };

  // ---- ops added for imported models (issue 9) ------------------------------------------------------------

  static final OpDef ABS = new Unary("Abs", false, Math::abs,
      g -> where(less(g.input(0), scalarLike(g.input(0), 0.0)), neg(g.grad(0)),
          where(greater(g.input(0), scalarLike(g.input(0), 0.0)), g.grad(0), scalarLike(g.grad(0), 0.0))));
  static final OpDef SIN = new Unary("Sin", true, Math::sin, g -> mul(g.grad(0), cos(g.input(0))));
  static final OpDef COS = new Unary("Cos", true, Math::cos, g -> neg(mul(g.grad(0), sin(g.input(0)))));
  // Floor and Ceil are piecewise constant: their derivative is zero wherever it exists (everywhere but the
  // integers), so the rule gives zeros rather than refusing. That matches torch.floor/ceil's backward and lets an
  // imported graph that computes e.g. position buckets with Floor still train its other paths.
  static final OpDef FLOOR = new Unary("Floor", true, Math::floor, g -> zerosLike(g.input(0)));
  static final OpDef CEIL = new Unary("Ceil", true, Math::ceil, g -> zerosLike(g.input(0)));

  private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
  private static final double GELU_CUBIC = 0.044715;

  /** Gelu (ONNX opset 20): x Phi(x), exactly (approximate="none") or with the tanh approximation. */
  static final OpDef GELU = new OpDef("Gelu") {
    private boolean tanhForm(Attributes a, OpCall call) {
      String mode = a.get(APPROXIMATE, "none");
      if (!mode.equals("none") && !mode.equals("tanh")) {
        if (call != null) {
          throw call.fail("approximate must be \"none\" or \"tanh\", got \"%s\"", mode);
        }
        throw new IllegalArgumentException("Gelu approximate must be none or tanh, got " + mode);
      }
      return mode.equals("tanh");
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 1) {
        throw call.fail("expects 1 input, got %d", call.count());
      }
      call.requireFloat(0);
      tanhForm(call.attributes(), call);
      return List.of(call.type(0));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      if (tanhForm(a, null)) {
        return List.of(Kernels.map(in.get(0), in.get(0).dtype(),
            x -> 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x))), rounding));
      }
      return List.of(Kernels.map(in.get(0), in.get(0).dtype(), x -> 0.5 * x * (1 + Kernels.erf(x / Math.sqrt(2))),
          rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      if (dy == null) {
        return Arrays.asList((Value) null);
      }
      Value x = g.input(0);
      Value half = scalarLike(x, 0.5);
      Value one = scalarLike(x, 1.0);
      Value d;
      if (tanhForm(g.node().attributes(), null)) {
        // y = x/2 (1 + t), t = tanh(u), u = k (x + c x^3): dy/dx = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 c x^2).
        Value x2 = mul(x, x);
        Value t = tanh(mul(scalarLike(x, SQRT_2_OVER_PI), add(x, mul(scalarLike(x, GELU_CUBIC), mul(x2, x)))));
        Value du = mul(scalarLike(x, SQRT_2_OVER_PI), add(one, mul(scalarLike(x, 3 * GELU_CUBIC), x2)));
        d = add(mul(half, add(one, t)), mul(mul(half, x), mul(sub(one, mul(t, t)), du)));
      } else {
        // y = x Phi(x): dy/dx = Phi(x) + x phi(x).
        Value phi = mul(half, add(one, erf(mul(x, scalarLike(x, 1 / Math.sqrt(2))))));
        Value pdf = mul(scalarLike(x, 1 / Math.sqrt(2 * Math.PI)), exp(mul(scalarLike(x, -0.5), mul(x, x))));
        d = add(phi, mul(x, pdf));
      }
      return Arrays.asList(mul(dy, d));
    }

    @Override
    public Graph decompose(Node node, int opset) {
      if (opset >= 20) {
        return null;
      }
      boolean tanh = tanhForm(node.attributes(), null);
      // Before opset 20 Gelu is written as the formula it names (the form torch.onnx exports at opset 17).
      return decomposeWith(node, ins -> {
        Value x = ins.get(0);
        Value half = scalarLike(x, 0.5);
        Value one = scalarLike(x, 1.0);
        Value inner = tanh
            ? tanh(mul(scalarLike(x, SQRT_2_OVER_PI), add(x, mul(scalarLike(x, GELU_CUBIC), mul(mul(x, x), x)))))
            : erf(div(x, scalarLike(x, Math.sqrt(2))));
        // x / sqrt 2 with a Div, as torch.onnx writes it: ONNX Runtime fuses this pattern into its Gelu kernel.
        return List.of(mul(mul(half, x), add(one, inner)));
      });
    }
  };

  /** A variadic broadcasting Min or Max; the gradient goes to the first operand that attains the result. */
  static final class Extremum extends OpDef {
    private final boolean max;

    Extremum(String onnxType, boolean max) {
      super(onnxType);
      this.max = max;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 1) {
        throw call.fail("expects at least 1 input");
      }
      List<Shape> shapes = new ArrayList<>();
      for (int i = 0; i < call.count(); i++) {
        if (call.input(i) == null) {
          throw call.fail("input %d is omitted; every operand is required", i);
        }
        call.requireSameDType(0, i);
        shapes.add(call.shape(i));
      }
      if (!call.dtype(0).isNumeric()) {
        throw call.fail("dtype %s is not numeric", call.dtype(0));
      }
      return List.of(new TensorType(call.dtype(0), Broadcast.shapes(call, shapes)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(Kernels.zipN(in, in.get(0).dtype(), v -> {
        double r = v[0];
        for (int i = 1; i < v.length; i++) {
          r = Double.isNaN(r) || Double.isNaN(v[i]) ? Double.NaN : max ? Math.max(r, v[i]) : Math.min(r, v[i]);
        }
        return r;
      }, rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      int n = g.node().inputs().size();
      List<Value> out = new ArrayList<>(Arrays.asList(new Value[n]));
      Value dy = g.grad(0);
      if (dy == null) {
        return out;
      }
      // Ties: the whole gradient goes to the lowest-index operand equal to the result (a subgradient; torch
      // splits ties evenly instead). "taken" marks the positions an earlier operand already claimed.
      Value y = g.output(0);
      Value zero = scalarLike(dy, 0.0);
      Value taken = null;
      for (int i = 0; i < n; i++) {
        Value eq = equal(g.input(i), y);
        Value sel = taken == null ? eq : and(eq, not(taken));
        if (g.needs(i)) {
          out.set(i, sumToShape(where(sel, dy, zero), g.input(i)));
        }
        taken = taken == null ? eq : or(taken, eq);
      }
      return out;
    }
  }

  static final OpDef MIN = new Extremum("Min", false);
  static final OpDef MAX = new Extremum("Max", true);

  /** Clip(x, min?, max?) with optional rank-0 bounds as inputs (opset 11+). */
  static final OpDef CLIP = new OpDef("Clip") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() < 1 || call.count() > 3) {
        throw call.fail("expects 1 to 3 inputs (input, optional min, optional max), got %d", call.count());
      }
      if (!call.dtype(0).isNumeric()) {
        throw call.fail("input '%s' has dtype %s, expected a numeric type", call.input(0).name(), call.dtype(0));
      }
      for (int i = 1; i < call.count(); i++) {
        if (call.input(i) != null) {
          call.requireSameDType(0, i);
          if (call.shape(i).rank() != 0) {
            throw call.fail("%s bound '%s' must be a rank-0 tensor, got shape %s", i == 1 ? "min" : "max",
                call.input(i).name(), call.shape(i));
          }
        }
      }
      return List.of(call.type(0));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      double lo = in.size() > 1 && in.get(1) != null ? in.get(1).get(0) : Double.NEGATIVE_INFINITY;
      double hi = in.size() > 2 && in.get(2) != null ? in.get(2).get(0) : Double.POSITIVE_INFINITY;
      return List.of(Kernels.map(in.get(0), in.get(0).dtype(), x -> Math.min(Math.max(x, lo), hi), rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      List<Value> out = new ArrayList<>(Arrays.asList(new Value[g.node().inputs().size()]));
      if (dy == null) {
        return out;
      }
      Value x = g.input(0);
      Value lo = g.input(1);
      Value hi = g.input(2);
      Value zero = scalarLike(dy, 0.0);
      // Where x is below min the output is min (gradient to min), above max it is max; at a bound exactly the
      // gradient goes to x (as torch.clamp does).
      Value dx = dy;
      if (lo != null) {
        Value below = less(x, lo);
        dx = where(below, zero, dx);
        if (g.needs(1)) {
          Value toLo = where(below, dy, zero);
          if (hi != null) {
            // When min > max the output is max everywhere; only positions not above max reach min.
            toLo = where(greater(x, hi), zero, toLo);
          }
          out.set(1, reduceSum(toLo, false));
        }
      }
      if (hi != null) {
        Value above = greater(x, hi);
        dx = where(above, zero, dx);
        if (g.needs(2)) {
          out.set(2, reduceSum(where(above, dy, zero), false));
        }
      }
      if (g.needs(0)) {
        out.set(0, dx);
      }
      return out;
    }
  };

  /** A bool-only elementwise op (Not, And, Or): bool in, bool out, no gradient. */
  static final class Logical extends OpDef {
    private final int arity;
    private final ToDoubleFunction<double[]> f;

    Logical(String onnxType, int arity, ToDoubleFunction<double[]> f) {
      super(onnxType);
      this.arity = arity;
      this.f = f;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != arity) {
        throw call.fail("expects %d input%s, got %d", arity, arity == 1 ? "" : "s", call.count());
      }
      List<Shape> shapes = new ArrayList<>();
      for (int i = 0; i < arity; i++) {
        call.requireDType(i, DType.BOOL);
        shapes.add(call.shape(i));
      }
      return List.of(new TensorType(DType.BOOL, Broadcast.shapes(call, shapes)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(Kernels.zipN(in, DType.BOOL, f, rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(new Value[g.node().inputs().size()]);
    }
  }

  static final OpDef NOT = new Logical("Not", 1, v -> v[0] != 0 ? 0 : 1);
  static final OpDef AND = new Logical("And", 2, v -> v[0] != 0 && v[1] != 0 ? 1 : 0);
  static final OpDef OR = new Logical("Or", 2, v -> v[0] != 0 || v[1] != 0 ? 1 : 0);
}
