package org.twicing.dsl.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BinaryOperator;
import java.util.function.Consumer;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Checks every gradient rule against central finite differences in float64. For one op node y = op(x...), the
 * scalar loss is L = sum_k ReduceSum(y_k * R_k) with fixed random R_k, so dL/dy_k = R_k. A test-local reverse pass
 * calls the node's rule once with R_k as upstream gradients; the input gradients it builds are evaluated with the
 * reference {@link Evaluator} and compared with (L(x + eps) - L(x - eps)) / 2 eps, eps = {@value #EPS}: relative
 * error (max-norm) at most {@value #TOL}.
 */
class GradientRuleTest {
  /** Finite-difference step. */
  static final double EPS = 1e-6;
  /** Allowed relative error between the rule's gradient and finite differences. */
  static final double TOL = 1e-6;
  /** Run-time sizes of symbolic dims. */
  static final Map<String, Long> BIND = Map.of("batch", 3L);
  /** Ops with no gradient rule: their rule must say so (null gradients, or UnsupportedOperationException). */
  static final Set<String> NOT_DIFFERENTIABLE = Set.of("Equal", "Less", "Greater", "Shape", "Range", "Constant",
      "ConstantOfShape", "OneHot", "Not", "And", "Or");

  /** What a case body builds with: builder, seeded randomness, feeds, inputs to differentiate, op outputs. */
  static final class Ctx {
    final GraphBuilder g;
    final Random rng;
    final Map<String, Tensor> feeds = new LinkedHashMap<>();
    final List<Value> wrt = new ArrayList<>();
    final List<Value> ys = new ArrayList<>();
    final List<Boolean> inLoss = new ArrayList<>();

    Ctx(String name) {
      g = new GraphBuilder("grad");
      rng = new Random(name.hashCode());
    }

    /** A float64 input to differentiate, standard normal times {@code std}, then mapped by {@code f}. */
    Value x(String name, double std, DoubleUnaryOperator f, Object... dims) {
      TensorType t = TensorType.of(DType.FLOAT64, dims);
      long[] shape = concrete(t);
      double[] d = new double[Math.toIntExact(Tensor.numel(shape))];
      for (int i = 0; i < d.length; i++) {
        d[i] = f.applyAsDouble(rng.nextGaussian() * std);
      }
      feeds.put(name, new Tensor(DType.FLOAT64, shape, d));
      Value v = g.input(name, t);
      wrt.add(v);
      return v;
    }

    /** A standard-normal float64 input to differentiate. */
    Value x(String name, Object... dims) {
      return x(name, 1, v -> v, dims);
    }

    /** A strictly positive float64 input to differentiate (|normal| + 0.5), for Log, Sqrt, Pow bases. */
    Value pos(String name, Object... dims) {
      return x(name, 1, v -> Math.abs(v) + 0.5, dims);
    }

    /** A float64 input with |v| &gt;= 0.3, away from kinks and poles (Relu, denominators). */
    Value away(String name, Object... dims) {
      return x(name, 1, v -> v + Math.copySign(0.3, v), dims);
    }

    /** A graph input that is not differentiated (indices, conditions), fed with {@code data}. */
    Value fixed(String name, Tensor data) {
      feeds.put(name, data);
      return g.input(name, data.type());
    }

    /** A graph input of type {@code t} (symbols allowed) that is not differentiated, fed with zeros. */
    Value typed(String name, TensorType t) {
      feeds.put(name, Tensor.zeros(t.dtype(), concrete(t)));
      return g.input(name, t);
    }

    /** Records an output of the op under test whose gradient enters the loss. */
    void y(Value v) {
      ys.add(v);
      inLoss.add(true);
    }

    /** Records all outputs of a multi-output node; those with {@code use[k]} false get no upstream gradient. */
    void ys(List<Value> vs, boolean... use) {
      for (int k = 0; k < vs.size(); k++) {
        ys.add(vs.get(k));
        inLoss.add(use.length == 0 || use[k]);
      }
    }
  }

  /** One gradient case: a name, the op whose rule it checks, and the body building the op call. */
  record Case(String name, String onnxType, Consumer<Ctx> body) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static long[] concrete(TensorType t) {
    long[] s = new long[t.rank()];
    for (int i = 0; i < s.length; i++) {
      var d = t.shape().dim(i);
      s[i] = d.isFixed() ? d.size() : BIND.get(d.symbol());
    }
    return s;
  }

  // ---- cases --------------------------------------------------------------------------------------------------

  /** Every differentiable case. */
  static List<Case> cases() {
    List<Case> cs = new ArrayList<>();
    Map<String, BinaryOperator<Value>> bin = new LinkedHashMap<>();
    bin.put("Add", Ops::add);
    bin.put("Sub", Ops::sub);
    bin.put("Mul", Ops::mul);
    bin.put("Div", Ops::div);
    bin.put("Pow", Ops::pow);
    bin.forEach((name, f) -> {
      boolean pow = name.equals("Pow");
      boolean div = name.equals("Div");
      cs.add(new Case(name + " broadcast [2,3,4] by [3,1]", name, c -> c.y(f.apply(
          pow ? c.pos("a", 2, 3, 4) : c.x("a", 2, 3, 4), div ? c.away("b", 3, 1) : c.x("b", 3, 1)))));
      cs.add(new Case(name + " rank-0 lhs with [3,4]", name, c -> c.y(f.apply(
          pow ? c.pos("a") : c.x("a"), div ? c.away("b", 3, 4) : c.x("b", 3, 4)))));
      cs.add(new Case(name + " symbolic [batch,3] by [3]", name, c -> c.y(f.apply(
          pow ? c.pos("a", "batch", 3) : c.x("a", "batch", 3), div ? c.away("b", 3) : c.x("b", 3)))));
      cs.add(new Case(name + " [4,1] by [1,5]", name, c -> c.y(f.apply(
          pow ? c.pos("a", 4, 1) : c.x("a", 4, 1), div ? c.away("b", 1, 5) : c.x("b", 1, 5)))));
    });

    Map<String, UnaryOperator<Value>> un = new LinkedHashMap<>();
    un.put("Neg", Ops::neg);
    un.put("Sqrt", Ops::sqrt);
    un.put("Exp", Ops::exp);
    un.put("Log", Ops::log);
    un.put("Tanh", Ops::tanh);
    un.put("Erf", Ops::erf);
    un.put("Relu", Ops::relu);
    un.put("Sigmoid", Ops::sigmoid);
    un.put("Identity", Ops::identity);
    un.forEach((name, f) -> cs.add(new Case(name + " [3,4]", name, c -> c.y(f.apply(
        name.equals("Sqrt") || name.equals("Log") ? c.pos("x", 3, 4)
            : name.equals("Relu") ? c.away("x", 3, 4)
            : name.equals("Erf") ? c.x("x", 1.5, v -> v, 3, 4) : c.x("x", 3, 4))))));

    cs.add(new Case("Where broadcast cond [2,1,4], x [2,3,4], y [4]", "Where", c -> c.y(Ops.where(
        c.fixed("cond", bools(c.rng, 2, 1, 4)), c.x("a", 2, 3, 4), c.x("b", 4)))));
    cs.add(new Case("Where rank-0 y", "Where", c -> c.y(Ops.where(c.fixed("cond", bools(c.rng, 3, 4)),
        c.x("a", 3, 4), c.x("b")))));

    cs.add(new Case("MatMul 2-D", "MatMul", c -> c.y(Ops.matmul(c.x("a", 3, 4), c.x("b", 4, 5)))));
    cs.add(new Case("MatMul batched with a shared 2-D weight", "MatMul", c -> c.y(Ops.matmul(c.x("a", 2, 3, 4),
        c.x("w", 4, 5)))));
    cs.add(new Case("MatMul symbolic batch with a shared 2-D weight", "MatMul", c -> c.y(Ops.matmul(
        c.x("a", "batch", 2, 4), c.x("w", 4, 3)))));
    cs.add(new Case("MatMul batched both", "MatMul", c -> c.y(Ops.matmul(c.x("a", 2, 3, 4), c.x("b", 2, 4, 5)))));
    cs.add(new Case("MatMul batch broadcast [2,1,3,4] x [3,4,5]", "MatMul", c -> c.y(Ops.matmul(
        c.x("a", 2, 1, 3, 4), c.x("b", 3, 4, 5)))));
    cs.add(new Case("MatMul 2-D by batched [3,4] x [2,4,5]", "MatMul", c -> c.y(Ops.matmul(c.x("a", 3, 4),
        c.x("b", 2, 4, 5)))));

    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        String v = " transA=" + (ta ? 1 : 0) + " transB=" + (tb ? 1 : 0);
        Object[] as = ta ? new Object[] {4, 3} : new Object[] {3, 4};
        Object[] bs = tb ? new Object[] {5, 4} : new Object[] {4, 5};
        cs.add(new Case("Gemm" + v + " C[5] alpha 0.7 beta 1.3", "Gemm", c -> c.y(Ops.gemm(c.x("a", as),
            c.x("b", bs), c.x("c", 5), 0.7, 1.3, ta, tb))));
        cs.add(new Case("Gemm" + v + " no C", "Gemm", c -> c.y(Ops.gemm(c.x("a", as), c.x("b", bs), ta, tb))));
      }
    }
    cs.add(new Case("Gemm C[3,1]", "Gemm", c -> c.y(Ops.gemm(c.x("a", 3, 4), c.x("b", 4, 5), c.x("c", 3, 1), 1.0,
        -0.5, false, false))));

    cs.add(new Case("Conv non-overlapping patches with bias", "Conv", c -> c.y(Ops.conv2d(c.x("img", 2, 3, 4, 6),
        c.x("w", 5, 3, 2, 2), c.x("bias", 5), new long[] {2, 2}, new long[] {0, 0, 0, 0}))));
    cs.add(new Case("Conv non-overlapping 3x2 patches, no bias", "Conv", c -> c.y(Ops.conv2d(
        c.x("img", 1, 2, 6, 4), c.x("w", 3, 2, 3, 2), null, new long[] {3, 2}, new long[] {0, 0, 0, 0}))));

    cs.add(new Case("Gather axis 0 with repeated indices", "Gather", c -> c.y(Ops.gather(c.x("table", 5, 3),
        c.fixed("idx", longs(new long[] {2, 4}, 1, 3, 1, 0, 4, 1, 1, 2)), 0))));
    cs.add(new Case("Gather axis 0 of rank 3", "Gather", c -> c.y(Ops.gather(c.x("table", 4, 2, 3),
        c.fixed("idx", longs(new long[] {3}, 3, 0, 3)), 0))));
    cs.add(new Case("Gather scalar index axis 1", "Gather", c -> c.y(Ops.gather(c.x("data", 2, 5, 3),
        c.fixed("idx", Tensor.scalar(DType.INT64, 2)), 1))));
    cs.add(new Case("Gather scalar index axis 0", "Gather", c -> c.y(Ops.gather(c.x("data", 4, 3),
        c.fixed("idx", Tensor.scalar(DType.INT64, 1)), 0))));

    cs.add(new Case("Concat axis 1 of three", "Concat", c -> c.y(Ops.concat(1, c.x("a", 2, 1, 3), c.x("b", 2, 2, 3),
        c.x("c", 2, 4, 3)))));
    cs.add(new Case("Concat axis -1", "Concat", c -> c.y(Ops.concat(-1, c.x("a", 3, 2), c.x("b", 3, 3)))));
    cs.add(new Case("Split axis 1 (1,2,3), all outputs used", "Split", c -> c.ys(Ops.split(c.x("x", 2, 6, 2), 1,
        1, 2, 3))));
    cs.add(new Case("Split axis -1 (2,1,2), middle output unused", "Split", c -> c.ys(Ops.split(c.x("x", 3, 5), -1,
        2, 1, 2), true, false, true)));

    cs.add(new Case("Slice two fixed axes, negative start", "Slice", c -> c.y(Ops.slice(c.x("x", 4, 5, 3),
        new long[] {1, -3}, new long[] {3, 100}, new long[] {0, 1}, new long[] {1, 1}))));
    cs.add(new Case("Slice with the symbolic batch kept", "Slice", c -> c.y(Ops.slice(c.x("x", "batch", 6),
        new long[] {2}, new long[] {5}, new long[] {1}, new long[] {1}))));
    cs.add(new Case("Pad begin and end", "Pad", c -> c.y(Ops.pad(c.x("x", 2, 3), 1, 0, 2, 3))));
    cs.add(new Case("Pad crops with negative pads", "Pad", c -> c.y(Ops.pad(c.x("x", "batch", 5), 0, -1, 0, 2))));

    cs.add(new Case("Transpose perm (2,0,1)", "Transpose", c -> c.y(Ops.transpose(c.x("x", 2, 3, 4), 2, 0, 1))));
    cs.add(new Case("Transpose default perm", "Transpose", c -> c.y(c.g.apply1(Views.TRANSPOSE,
        Attributes.none(), c.x("x", 2, 3, 4)))));
    cs.add(new Case("Reshape (0,-1)", "Reshape", c -> c.y(Ops.reshape(c.x("x", 2, 3, 4), 0, -1))));
    cs.add(new Case("Reshape (4,-1,2)", "Reshape", c -> c.y(Ops.reshape(c.x("x", 2, 3, 4), 4, -1, 2))));
    cs.add(new Case("Reshape symbolic (0,-1)", "Reshape", c -> c.y(Ops.reshape(c.x("x", "batch", 2, 2), 0, -1))));
    cs.add(new Case("Flatten axis 2", "Flatten", c -> c.y(Ops.flatten(c.x("x", 2, 3, 4), 2))));
    cs.add(new Case("Flatten axis 0", "Flatten", c -> c.y(Ops.flatten(c.x("x", 2, 3), 0))));
    cs.add(new Case("Unsqueeze axes (0,-1)", "Unsqueeze", c -> c.y(Ops.unsqueeze(c.x("x", 2, 3), 0, -1))));
    cs.add(new Case("Squeeze axes (1,3)", "Squeeze", c -> c.y(Ops.squeeze(c.x("x", 2, 1, 3, 1), 1, 3))));
    cs.add(new Case("Expand [3,1] to [2,3,4]", "Expand", c -> {
      Value x = c.x("x", 3, 1);
      c.y(Ops.expand(x, Ops.ints(x, 2, 3, 4)));
    }));
    cs.add(new Case("Expand [1,4] to a symbolic [batch,4]", "Expand", c -> c.y(Ops.expandLike(c.x("x", 1, 4),
        c.typed("like", TensorType.of(DType.FLOAT64, "batch", 4))))));
    cs.add(new Case("Cast float64 to float64", "Cast", c -> c.y(c.g.apply1(Constants.CAST,
        Attributes.of(Shaping.TO, (long) DType.FLOAT64.onnxCode()), c.x("x", 2, 3)))));
    cs.add(new Case("Trilu upper k=1", "Trilu", c -> {
      Value x = c.x("x", 2, 4, 5);
      c.y(Ops.trilu(x, true, Ops.constantLike(x, Tensor.scalar(DType.INT64, 1))));
    }));
    cs.add(new Case("Trilu lower no k", "Trilu", c -> c.y(Ops.trilu(c.x("x", 4, 4), false, null))));

    for (boolean keep : new boolean[] {false, true}) {
      String k = " keepdims " + (keep ? 1 : 0);
      cs.add(new Case("ReduceSum axes (1)" + k, "ReduceSum", c -> c.y(Ops.reduceSum(c.x("x", 2, 3, 4), keep, 1))));
      cs.add(new Case("ReduceSum axes (0,2)" + k, "ReduceSum", c -> c.y(Ops.reduceSum(c.x("x", 2, 3, 4), keep, 0,
          2))));
      cs.add(new Case("ReduceSum all" + k, "ReduceSum", c -> c.y(Ops.reduceSum(c.x("x", 2, 3), keep))));
      cs.add(new Case("ReduceMean axes (-1)" + k, "ReduceMean", c -> c.y(Ops.reduceMean(c.x("x", 2, 3, 4), keep,
          -1))));
      cs.add(new Case("ReduceMean axes (0,2)" + k, "ReduceMean", c -> c.y(Ops.reduceMean(c.x("x", 2, 3, 4), keep,
          0, 2))));
      cs.add(new Case("ReduceMean all" + k, "ReduceMean", c -> c.y(Ops.reduceMean(c.x("x", 2, 3), keep))));
      cs.add(new Case("ReduceMean over a symbolic axis" + k, "ReduceMean", c -> c.y(Ops.reduceMean(
          c.x("x", "batch", 4), keep, 0))));
      cs.add(new Case("ReduceMax axes (1)" + k, "ReduceMax", c -> c.y(Ops.reduceMax(c.x("x", 2, 3, 4), keep, 1))));
      cs.add(new Case("ReduceMax axes (0,2)" + k, "ReduceMax", c -> c.y(Ops.reduceMax(c.x("x", 2, 3, 4), keep, 0,
          2))));
      cs.add(new Case("ReduceMax all" + k, "ReduceMax", c -> c.y(Ops.reduceMax(c.x("x", 3, 4), keep))));
    }
    for (long axis : new long[] {-1, 1, 0}) {
      cs.add(new Case("Softmax axis " + axis, "Softmax", c -> c.y(Ops.softmax(c.x("x", 2, 3, 4), axis))));
      cs.add(new Case("LogSoftmax axis " + axis, "LogSoftmax", c -> c.y(Ops.logSoftmax(c.x("x", 2, 3, 4), axis))));
    }
    cs.add(new Case("LayerNormalization axis -1 with bias", "LayerNormalization", c -> c.y(Ops.layerNorm(
        c.x("x", 2, 3, 5), c.x("scale", 5), c.x("bias", 5), -1, 1e-5))));
    cs.add(new Case("LayerNormalization axis 1 no bias", "LayerNormalization", c -> c.y(Ops.layerNorm(
        c.x("x", 2, 3, 4), c.x("scale", 3, 4), null, 1, 1e-3))));
    cs.add(new Case("Dropout ratio 0", "Dropout", c -> c.ys(Ops.dropout(c.x("x", 3, 4), 0.0, 3), true, false)));
    cs.add(new Case("Dropout ratio 0.5 (seeded mask)", "Dropout", c -> c.ys(Ops.dropout(c.x("x", 4, 5), 0.5, 11),
        true, false)));
    widenedOpCases(cs);
    return cs;
  }

  private static final long[] S1 = {1, 1};
  private static final long[] P0 = {0, 0, 0, 0};

  /** The ops added for imported models: elementwise, Einsum, general Conv, pooling, BatchNormalization. */
  private static void widenedOpCases(List<Case> cs) {
    cs.add(new Case("Gelu exact [3,4]", "Gelu", c -> c.y(Ops.gelu(c.x("x", 2.0, v -> v, 3, 4), false))));
    cs.add(new Case("Gelu tanh [3,4]", "Gelu", c -> c.y(Ops.gelu(c.x("x", 2.0, v -> v, 3, 4), true))));
    cs.add(new Case("Min broadcast [2,3] by [3]", "Min", c -> c.y(Ops.min(c.x("a", 2, 3), c.x("b", 3)))));
    cs.add(new Case("Max of three, broadcast", "Max", c -> c.y(Ops.max(c.x("a", 2, 3), c.x("b", 3), c.x("c", 2, 1)))));
    cs.add(new Case("Max of one", "Max", c -> c.y(Ops.max(c.x("a", 4)))));
    cs.add(new Case("Clip both bounds as inputs", "Clip", c -> c.y(Ops.clip(c.x("x", 2.0, v -> v, 4, 5),
        c.x("lo", 0.2, v -> v - 0.6), c.x("hi", 0.2, v -> v + 0.6)))));
    cs.add(new Case("Clip min only", "Clip", c -> c.y(Ops.clip(c.x("x", 3, 4), c.x("lo", 0.2, v -> v), null))));
    cs.add(new Case("Clip max only", "Clip", c -> c.y(Ops.clip(c.x("x", 3, 4), null, c.x("hi", 0.2, v -> v)))));
    cs.add(new Case("Abs [3,4]", "Abs", c -> c.y(Ops.abs(c.away("x", 3, 4)))));
    cs.add(new Case("Floor has zero gradient", "Floor", c -> c.y(Ops.floor(c.x("x", 3.0, v -> offInteger(v), 3, 4)))));
    cs.add(new Case("Ceil has zero gradient", "Ceil", c -> c.y(Ops.ceil(c.x("x", 3.0, v -> offInteger(v), 3, 4)))));
    cs.add(new Case("Sin [3,4]", "Sin", c -> c.y(Ops.sin(c.x("x", 2.0, v -> v, 3, 4)))));
    cs.add(new Case("Cos [3,4]", "Cos", c -> c.y(Ops.cos(c.x("x", 2.0, v -> v, 3, 4)))));

    cs.add(new Case("Einsum bij,bjk->bik", "Einsum", c -> c.y(Ops.einsum("bij,bjk->bik", c.x("a", 2, 3, 4),
        c.x("b", 2, 4, 5)))));
    cs.add(new Case("Einsum bhid,bhjd->bhij", "Einsum", c -> c.y(Ops.einsum("bhid,bhjd->bhij",
        c.x("q", 2, 2, 3, 4), c.x("k", 2, 2, 5, 4)))));
    cs.add(new Case("Einsum ...ij,...jk->...ik", "Einsum", c -> c.y(Ops.einsum("...ij,...jk->...ik",
        c.x("a", 2, 2, 3, 4), c.x("b", 2, 2, 4, 5)))));
    cs.add(new Case("Einsum ellipsis on one operand only: ...ij,jk->...ik", "Einsum", c -> c.y(Ops.einsum(
        "...ij,jk->...ik", c.x("a", 2, 3, 4), c.x("b", 4, 5)))));
    cs.add(new Case("Einsum ij->ji", "Einsum", c -> c.y(Ops.einsum("ij->ji", c.x("a", 3, 4)))));
    cs.add(new Case("Einsum ij->i", "Einsum", c -> c.y(Ops.einsum("ij->i", c.x("a", 3, 4)))));
    cs.add(new Case("Einsum outer i,j->ij", "Einsum", c -> c.y(Ops.einsum("i,j->ij", c.x("a", 3), c.x("b", 4)))));
    cs.add(new Case("Einsum implicit ij,jk", "Einsum", c -> c.y(Ops.einsum("ij,jk", c.x("a", 3, 4),
        c.x("b", 4, 2)))));
    cs.add(new Case("Einsum three operands ij,jk,kl->il", "Einsum", c -> c.y(Ops.einsum("ij,jk,kl->il",
        c.x("a", 2, 3), c.x("b", 3, 4), c.x("c", 4, 2)))));
    cs.add(new Case("Einsum label summed from one operand only: ij,j->", "Einsum", c -> c.y(Ops.einsum("ij,j->",
        c.x("a", 3, 4), c.x("b", 4)))));

    cs.add(new Case("Conv 2-D overlapping 3x3 stride 1 pad 1 bias", "Conv", c -> c.y(Ops.conv(c.x("img", 2, 3, 5, 4),
        c.x("w", 4, 3, 3, 3), c.x("bias", 4), S1, new long[] {1, 1, 1, 1}, S1, 1))));
    cs.add(new Case("Conv 2-D stride 2 asymmetric pads (sizes not divisible)", "Conv", c -> c.y(Ops.conv(
        c.x("img", 1, 2, 6, 7), c.x("w", 3, 2, 3, 2), null, new long[] {2, 3}, new long[] {0, 1, 2, 1}, S1, 1))));
    cs.add(new Case("Conv 2-D dilation 2", "Conv", c -> c.y(Ops.conv(c.x("img", 2, 2, 6, 6), c.x("w", 2, 2, 2, 3),
        c.x("bias", 2), S1, P0, new long[] {2, 2}, 1))));
    cs.add(new Case("Conv 2-D groups 2 stride 2", "Conv", c -> c.y(Ops.conv(c.x("img", 2, 4, 5, 5),
        c.x("w", 6, 2, 3, 3), c.x("bias", 6), new long[] {2, 2}, new long[] {1, 1, 1, 1}, S1, 2))));
    cs.add(new Case("Conv 2-D depthwise (groups = channels)", "Conv", c -> c.y(Ops.conv(c.x("img", 1, 3, 4, 5),
        c.x("w", 3, 1, 3, 3), null, S1, new long[] {1, 1, 1, 1}, S1, 3))));
    cs.add(new Case("Conv 1-D stride 2 pad 1 dilation 2", "Conv", c -> c.y(Ops.conv(c.x("seq", 2, 3, 9),
        c.x("w", 2, 3, 3), c.x("bias", 2), new long[] {2}, new long[] {1, 1}, new long[] {2}, 1))));
    cs.add(new Case("Conv 2-D auto_pad SAME_UPPER stride 2", "Conv", c -> c.y(Ops.conv(c.x("img", 1, 2, 5, 6),
        c.x("w", 2, 2, 3, 3), null, Attributes.of(Ops.AUTO_PAD, "SAME_UPPER", Ops.STRIDES, new long[] {2, 2})))));
    cs.add(new Case("Conv symbolic batch, overlapping", "Conv", c -> c.y(Ops.conv(c.x("img", "batch", 2, 4, 4),
        c.x("w", 3, 2, 3, 3), null, S1, P0, S1, 1))));
    cs.add(new Case("Conv groups 2 with a symbolic batch", "Conv", c -> c.y(Ops.conv(c.x("img", "batch", 4, 4, 4),
        c.x("w", 2, 2, 2, 2), c.x("bias", 2), new long[] {2, 1}, new long[] {0, 1, 1, 0}, S1, 2))));
    cs.add(new Case("ConvTranspose 2-D stride 2 pad 1 output_padding 1 groups 2 bias", "ConvTranspose",
        c -> c.y(Ops.convTranspose(c.x("x", 2, 4, 3, 3), c.x("w", 4, 3, 3, 3), c.x("bias", 6), new long[] {2, 2},
            new long[] {1, 1, 1, 1}, S1, new long[] {1, 1}, 2))));
    cs.add(new Case("ConvTranspose 1-D dilation 2", "ConvTranspose", c -> c.y(Ops.convTranspose(c.x("x", 1, 2, 4),
        c.x("w", 2, 3, 2), null, new long[] {1}, new long[] {0, 1}, new long[] {2}, new long[] {0}, 1))));

    cs.add(new Case("BatchNormalization inference, all inputs", "BatchNormalization", c -> c.y(Ops.batchNorm(
        c.x("x", 2, 3, 4, 2), c.x("scale", 3), c.x("bias", 3), c.x("mean", 3), c.pos("var", 3), 1e-5))));
    cs.add(new Case("BatchNormalization training, all outputs", "BatchNormalization", c -> c.ys(
        Ops.batchNormTraining(c.x("x", 1.0, v -> v + 0.5, 2, 3, 3, 2), c.x("scale", 3), c.x("bias", 3), c.x("mean", 3),
            c.pos("var", 3), 1e-5, 0.9))));
    cs.add(new Case("BatchNormalization training, Y only, rank 2", "BatchNormalization", c -> c.ys(
        Ops.batchNormTraining(c.x("x", 5, 3), c.x("scale", 3), c.x("bias", 3),
            c.fixed("mean", Tensor.zeros(DType.FLOAT64, 3)), c.fixed("var", Tensor.full(DType.FLOAT64, 1, 3)), 1e-3,
            0.8), true, false, false)));

    cs.add(new Case("MaxPool 3x3 stride 2 pad 1 (overlapping)", "MaxPool", c -> c.ys(Ops.maxPool(
        c.x("x", 2, 2, 5, 6), Attributes.of(Ops.KERNEL_SHAPE, new long[] {3, 3}, Ops.STRIDES, new long[] {2, 2})
            .with(Ops.PADS, new long[] {1, 1, 1, 1})), true, false)));
    cs.add(new Case("MaxPool 1-D kernel 2 dilation 2 stride 1", "MaxPool", c -> c.ys(Ops.maxPool(c.x("x", 2, 3, 7),
        Attributes.of(Ops.KERNEL_SHAPE, new long[] {2}, Ops.DILATIONS, new long[] {2})), true, false)));
    cs.add(new Case("AveragePool 3x3 stride 1 pad 1 count_include_pad 0", "AveragePool", c -> c.y(
        Ops.averagePool(c.x("x", 2, 2, 4, 5), new long[] {3, 3}, S1, new long[] {1, 1, 1, 1}, false))));
    cs.add(new Case("AveragePool 3x2 stride 2 pads count_include_pad 1", "AveragePool", c -> c.y(
        Ops.averagePool(c.x("x", 1, 3, 5, 6), new long[] {3, 2}, new long[] {2, 2}, new long[] {1, 0, 1, 1}, true))));
    cs.add(new Case("AveragePool 1-D kernel 3 stride 2", "AveragePool", c -> c.y(Ops.averagePool(c.x("x", 2, 2, 8),
        new long[] {3}, new long[] {2}, new long[] {0, 0}, false))));
    cs.add(new Case("MaxPool ceil_mode 3x3 stride 2", "MaxPool", c -> c.ys(Ops.maxPool(c.x("x", 1, 2, 6, 7),
        Attributes.of(Ops.KERNEL_SHAPE, new long[] {3, 3}, Ops.STRIDES, new long[] {2, 2})
            .with(Ops.PADS, new long[] {1, 0, 0, 1}).with(Ops.CEIL_MODE, 1L)), true, false)));
    for (long cip = 0; cip < 2; cip++) {
      long incl = cip;
      cs.add(new Case("AveragePool ceil_mode count_include_pad " + incl, "AveragePool", c -> c.y(Ops.averagePool(
          c.x("x", 1, 2, 6, 7), Attributes.of(Ops.KERNEL_SHAPE, new long[] {3, 2}, Ops.STRIDES, new long[] {2, 2})
              .with(Ops.PADS, new long[] {1, 0, 1, 0}).with(Ops.CEIL_MODE, 1L).with(Ops.COUNT_INCLUDE_PAD, incl)))));
    }
    cs.add(new Case("AveragePool stride 3 leaves trailing input unread", "AveragePool", c -> c.y(Ops.averagePool(
        c.x("x", 1, 1, 9, 5), new long[] {2, 2}, new long[] {3, 3}, new long[] {0, 0, 0, 0}, false))));
    cs.add(new Case("GlobalAveragePool 2-D", "GlobalAveragePool", c -> c.y(Ops.globalAveragePool(
        c.x("x", 2, 3, 4, 5)))));
    cs.add(new Case("GlobalAveragePool 1-D", "GlobalAveragePool", c -> c.y(Ops.globalAveragePool(c.x("x", 2, 3, 4)))));

    cs.add(new Case("ScatterElements add with repeated indices", "ScatterElements", c -> c.y(Ops.scatterElements(
        c.x("data", 6), c.fixed("idx", Tensor.longs(1, 4, 1, 0, 4)), c.x("upd", 5), 0, "add"))));
    cs.add(new Case("ScatterElements add 2-D axis 1", "ScatterElements", c -> c.y(Ops.scatterElements(
        c.x("data", 2, 4), c.fixed("idx", longs(new long[] {2, 3}, 3, 0, 3, 1, 1, -1)), c.x("upd", 2, 3), 1, "add"))));
    cs.add(new Case("GatherElements axis 1 with repeated indices", "GatherElements", c -> c.y(Ops.gatherElements(
        c.x("data", 3, 4), c.fixed("idx", longs(new long[] {3, 2}, 0, 0, 3, -1, 2, 1)), 1))));
    cs.add(new Case("GatherElements axis 0", "GatherElements", c -> c.y(Ops.gatherElements(c.x("data", 3, 2),
        c.fixed("idx", longs(new long[] {4, 2}, 2, 0, 1, 1, 0, 2, 2, 2)), 0))));
    cs.add(new Case("ScatterElements none with distinct indices", "ScatterElements", c -> c.y(Ops.scatterElements(
        c.x("data", 6), c.fixed("idx", Tensor.longs(5, 2, 0)), c.x("upd", 3), 0, "none"))));
  }

  /** Moves v to the middle half between its neighbouring integers, away from Floor/Ceil's jumps. */
  private static double offInteger(double v) {
    return Math.floor(v) + 0.25 + 0.5 * (v - Math.floor(v));
  }

  private static Tensor bools(Random r, long... shape) {
    double[] d = new double[Math.toIntExact(Tensor.numel(shape))];
    for (int i = 0; i < d.length; i++) {
      d[i] = r.nextBoolean() ? 1 : 0;
    }
    return new Tensor(DType.BOOL, shape, d);
  }

  private static Tensor longs(long[] shape, long... values) {
    return Tensor.longs(values).reshape(shape);
  }

  // ---- the check ----------------------------------------------------------------------------------------------

  /** One dynamic test per case. */
  @TestFactory
  Stream<DynamicTest> gradientRulesMatchFiniteDifferences() {
    return cases().stream().map(c -> dynamicTest(c.name(), () -> {
      try {
        check(c);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("[" + c.name() + "] " + e.getMessage(), e);
      }
    }));
  }

  private static void check(Case c) {
    Ctx ctx = new Ctx(c.name());
    c.body().accept(ctx);
    GraphBuilder g = ctx.g;
    Node node = ctx.ys.get(0).producer();
    assertNotNull(node, "the op result has no producer node");
    assertEquals(c.onnxType(), node.op().onnxType(), "the case builds the wrong op");
    for (Value y : ctx.ys) {
      assertTrue(y.producer() == node, "all recorded outputs must come from one node");
    }

    // Concrete output shapes, for the random upstream gradients R_k.
    for (int k = 0; k < ctx.ys.size(); k++) {
      g.output("y" + k, ctx.ys.get(k));
    }
    Map<Value, Tensor> fwd = Evaluator.evaluateAll(g.build(), ctx.feeds, Rounding.TO_DTYPE);

    // L = sum_k ReduceSum(y_k * R_k). R_k is a constant when y_k's shape is fixed; with symbolic dims it is a
    // graph input of y_k's own type (fed a fixed tensor), so the upstream gradient has the type autodiff would give.
    List<Value> upstream = new ArrayList<>();
    Value loss = null;
    for (int k = 0; k < ctx.ys.size(); k++) {
      Value y = ctx.ys.get(k);
      if (!ctx.inLoss.get(k)) {
        upstream.add(null);
        continue;
      }
      Tensor r = Tensor.randn(DType.FLOAT64, ctx.rng, 1, fwd.get(y).shape());
      Value rv;
      if (y.shape().isFixed()) {
        rv = g.constant(r);
      } else {
        rv = g.input("R" + k, y.type());
        ctx.feeds.put("R" + k, r);
      }
      upstream.add(rv);
      Value term = Ops.reduceSum(Ops.mul(y, rv), false);
      loss = loss == null ? term : Ops.add(loss, term);
    }
    g.output("L", loss);
    Graph forward = g.build();

    // The test-local reverse pass: one call of the node's gradient rule.
    boolean[] needed = new boolean[node.inputs().size()];
    for (int i = 0; i < needed.length; i++) {
      needed[i] = ctx.wrt.contains(node.input(i));
    }
    List<Value> grads = node.op().gradient(new GradCall(node, upstream, needed));
    Map<Value, String> gradNames = new LinkedHashMap<>();
    for (int i = 0; i < needed.length; i++) {
      if (!needed[i]) {
        continue;
      }
      Value x = node.input(i);
      Value gx = i < grads.size() ? grads.get(i) : null;
      assertNotNull(gx, "no gradient for input " + i + " '" + x.name() + "'");
      assertEquals(x.dtype(), gx.dtype(), "gradient dtype of '" + x.name() + "'");
      String name = "d_" + x.name();
      if (!gradNames.containsKey(x)) {
        g.output(name, gx);
        gradNames.put(x, name);
      }
    }
    Map<String, Tensor> analytic = Evaluator.run(g.build(), ctx.feeds);

    for (Map.Entry<Value, String> e : gradNames.entrySet()) {
      Value x = e.getKey();
      Tensor base = ctx.feeds.get(x.name());
      Tensor ga = analytic.get(e.getValue());
      assertEquals(Arrays.toString(base.shape()), Arrays.toString(ga.shape()), "gradient shape of '" + x.name()
          + "'");
      double[] fd = new double[base.size()];
      for (int j = 0; j < fd.length; j++) {
        fd[j] = (lossAt(forward, ctx.feeds, x.name(), base, j, EPS) - lossAt(forward, ctx.feeds, x.name(), base, j,
            -EPS)) / (2 * EPS);
      }
      double err = relErr(ga.toDoubles(), fd);
      assertTrue(err <= TOL, "d L / d '" + x.name() + "': relative error " + err + " > " + TOL + "\n rule: "
          + Arrays.toString(ga.toDoubles()) + "\n  fd:  " + Arrays.toString(fd));
    }
  }

  private static double lossAt(Graph forward, Map<String, Tensor> feeds, String name, Tensor base, int j,
      double delta) {
    double[] d = base.toDoubles();
    d[j] += delta;
    Map<String, Tensor> f = new HashMap<>(feeds);
    f.put(name, new Tensor(base.dtype(), base.shape(), d));
    Tensor l = Evaluator.run(forward, f).get("L");
    assertEquals(0, l.rank(), "the loss must be a scalar");
    return l.get(0);
  }

  /** max|a - b| / max(max|b|, tiny). */
  private static double relErr(double[] a, double[] b) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      double d = Math.abs(a[i] - b[i]);
      if (Double.isNaN(d)) {
        return Double.NaN;
      }
      num = Math.max(num, d);
      den = Math.max(den, Math.abs(b[i]));
    }
    return num / Math.max(den, 1e-30);
  }

  // ---- coverage and non-differentiable ops --------------------------------------------------------------------

  /** Every op in the registry either has a finite-difference case or is listed as not differentiable. */
  @Test
  void everyOpIsCheckedOrDeclaredNotDifferentiable() {
    Set<String> checked = new LinkedHashSet<>();
    cases().forEach(c -> checked.add(c.onnxType()));
    List<String> missing = Ops.registry().stream().map(OpDef::onnxType)
        .filter(t -> !checked.contains(t) && !NOT_DIFFERENTIABLE.contains(t)).toList();
    assertTrue(missing.isEmpty(), "ops with neither a gradient check nor a not-differentiable entry: " + missing);
    List<String> both = checked.stream().filter(NOT_DIFFERENTIABLE::contains).toList();
    assertTrue(both.isEmpty(), "ops both checked and listed as not differentiable: " + both);
    List<String> unknown = checked.stream().filter(t -> Ops.byOnnxType(t) == null).toList();
    assertTrue(unknown.isEmpty(), "cases name ops not in the registry: " + unknown);
  }

  /** The ops without a rule say so: they return only null gradients or throw UnsupportedOperationException. */
  @Test
  void notDifferentiableOpsGiveNoGradient() {
    GraphBuilder g = new GraphBuilder("nd");
    Value a = g.input("a", TensorType.of(DType.FLOAT64, 2, 3));
    Value b = g.input("b", TensorType.of(DType.FLOAT64, 2, 3));
    Value idx = g.input("idx", TensorType.of(DType.INT64, 4));
    Map<String, Value> outs = new LinkedHashMap<>();
    outs.put("Equal", Ops.equal(a, b));
    outs.put("Less", Ops.less(a, b));
    outs.put("Greater", Ops.greater(a, b));
    outs.put("Shape", Ops.shapeOf(a));
    outs.put("Range", Ops.range(g.input("s", TensorType.of(DType.FLOAT64)), g.input("l", TensorType.of(DType.FLOAT64)),
        g.input("d", TensorType.of(DType.FLOAT64))));
    outs.put("Constant", g.constant(Tensor.zeros(DType.FLOAT64, 2)));
    outs.put("ConstantOfShape", Ops.constantOfShape(Ops.shapeOf(a), Tensor.full(DType.FLOAT64, 1, 1)));
    outs.put("OneHot", Ops.oneHot(idx, 5));
    Value p = g.input("p", TensorType.of(DType.BOOL, 2, 3));
    Value q = g.input("q", TensorType.of(DType.BOOL, 2, 3));
    outs.put("Not", Ops.not(p));
    outs.put("And", Ops.and(p, q));
    outs.put("Or", Ops.or(p, q));
    assertEquals(NOT_DIFFERENTIABLE, outs.keySet(), "the list above must match NOT_DIFFERENTIABLE");
    for (Map.Entry<String, Value> e : outs.entrySet()) {
      Node n = e.getValue().producer();
      assertEquals(e.getKey(), n.op().onnxType());
      Value up = g.constant(Tensor.zeros(e.getValue().dtype(), concreteFixed(e.getValue())));
      boolean[] all = new boolean[n.inputs().size()];
      Arrays.fill(all, true);
      List<Value> res;
      try {
        res = n.op().gradient(new GradCall(n, List.of(up), all));
      } catch (UnsupportedOperationException ex) {
        assertTrue(ex.getMessage().contains(e.getKey()), "the refusal names the op: " + ex.getMessage());
        continue;
      }
      assertTrue(res.stream().allMatch(v -> v == null), e.getKey() + " returned a gradient: " + res);
    }
  }

  private static long[] concreteFixed(Value v) {
    return v.shape().isFixed() ? v.shape().sizes() : new long[] {1};
  }

  /** Cast's rule casts the gradient back to the input dtype: float64 input, float32 output. */
  @Test
  void castGradientReturnsToTheInputDtype() {
    GraphBuilder g = new GraphBuilder("cast");
    Value x = g.input("x", TensorType.of(DType.FLOAT64, 2, 3));
    Value y = Ops.cast(x, DType.FLOAT32);
    Tensor r = Tensor.randn(DType.FLOAT32, new Random(5), 1, 2, 3);
    List<Value> gx = y.producer().op().gradient(new GradCall(y.producer(), List.of(g.constant(r)),
        new boolean[] {true}));
    assertEquals(DType.FLOAT64, gx.get(0).dtype());
    g.output("gx", gx.get(0));
    Tensor got = Evaluator.run(g.build(), Map.of("x", Tensor.zeros(DType.FLOAT64, 2, 3))).get("gx");
    assertEquals(Arrays.toString(r.toDoubles()), Arrays.toString(got.toDoubles()));
  }
}
