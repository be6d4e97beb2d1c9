package org.twicing.tests.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.BinaryOperator;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;
import org.twicing.tests.support.Tolerance;

/**
 * Op-by-op parity: for every op in {@link Ops#registry()}, one-op graphs built with the DSL on seeded random
 * inputs are emitted, passed through the official ONNX checker (strict shape inference, default domain only), run
 * in ONNX Runtime in float32 and compared with the float64 reference {@link Evaluator}: relative error at most
 * {@value #REL_TOL} for floating outputs, exact equality for integer and bool outputs. Run-time output shapes must
 * also agree with the static types the DSL's shape rules declared.
 */
class OpParityTest {
  /** Relative error allowed between ONNX Runtime (float32) and the float64 reference. */
  static final double REL_TOL = 1e-5;
  /** Run-time sizes of the symbolic dims used in the cases. */
  static final Map<String, Long> BIND = Map.of("batch", 3L);

  /** Makes one input's data for a concrete shape. */
  @FunctionalInterface
  interface Gen {
    /** The data for {@code shape} drawn from {@code rng}. */
    Tensor make(Random rng, long[] shape);
  }

  /** Standard-normal float32 values scaled by {@code std}. */
  static Gen normal(double std) {
    return (r, s) -> Tensor.randn(DType.FLOAT32, r, std, s);
  }

  /** Float32 values with |v| &gt;= {@code min} (normal plus a signed offset), e.g. for denominators. */
  static Gen awayFromZero(double min) {
    return (r, s) -> map(Tensor.randn(DType.FLOAT32, r, 1, s), v -> v + Math.copySign(min, v));
  }

  /** Float32 values uniform in [lo, hi). */
  static Gen uniform(double lo, double hi) {
    return (r, s) -> fill(DType.FLOAT32, s, () -> lo + (hi - lo) * r.nextDouble());
  }

  /** Integers uniform in [lo, hi) held in {@code dtype} (an integer or a float type). */
  static Gen ints(DType dtype, int lo, int hi) {
    return (r, s) -> fill(dtype, s, () -> lo + r.nextInt(hi - lo));
  }

  /** Random booleans. */
  static Gen bools() {
    return (r, s) -> fill(DType.BOOL, s, () -> r.nextBoolean() ? 1 : 0);
  }

  private static Tensor fill(DType dtype, long[] shape, DoubleSupplier f) {
    double[] d = new double[Math.toIntExact(Tensor.numel(shape))];
    for (int i = 0; i < d.length; i++) {
      d[i] = f.getAsDouble();
    }
    return new Tensor(dtype, shape, d).roundedToDType();
  }

  private static Tensor map(Tensor t, DoubleUnaryOperator f) {
    double[] d = t.toDoubles();
    for (int i = 0; i < d.length; i++) {
      d[i] = f.applyAsDouble(d[i]);
    }
    return new Tensor(t.dtype(), t.shape(), d).roundedToDType();
  }

  /** What a case body builds with: the graph builder, its seeded random source and the feeds it declares. */
  static final class Ctx {
    final GraphBuilder g;
    final Random rng;
    final Map<String, Tensor> feeds = new LinkedHashMap<>();

    Ctx(String name) {
      this.g = new GraphBuilder(name.replaceAll("[^A-Za-z0-9_]", "_"));
      this.rng = new Random(name.hashCode());
    }

    /** A graph input of type {@code dtype[dims]} (symbols allowed) fed with data from {@code gen}. */
    Value in(String name, DType dtype, Gen gen, Object... dims) {
      TensorType t = TensorType.of(dtype, dims);
      Tensor data = gen.make(rng, concrete(t.shape()));
      if (data.dtype() != dtype) {
        data = data.cast(dtype);
      }
      feeds.put(name, data);
      return g.input(name, t);
    }

    /** A float32 standard-normal graph input. */
    Value in(String name, Object... dims) {
      return in(name, DType.FLOAT32, normal(1), dims);
    }

    /** A parameter (emitted as an initializer) holding data from {@code gen}. */
    Value param(String name, DType dtype, Gen gen, long... shape) {
      Tensor data = gen.make(rng, shape);
      return g.parameter(name, data.dtype() == dtype ? data : data.cast(dtype));
    }

    /** A Constant node. */
    Value constant(Tensor t) {
      return g.constant(t);
    }

    /** Marks a graph output. */
    void out(String name, Value v) {
      g.output(name, v);
    }
  }

  /** One parity case: the op it exercises, how to build the graph, and an optional replacement check. */
  record Case(String name, String onnxType, Consumer<Ctx> body,
      BiConsumer<Map<String, Tensor>, Map<String, Tensor>> customCheck, int opset) {
    /** A case emitted at the default opset. */
    Case(String name, String onnxType, Consumer<Ctx> body,
        BiConsumer<Map<String, Tensor>, Map<String, Tensor>> customCheck) {
      this(name, onnxType, body, customCheck, EmitOptions.DEFAULT_OPSET);
    }

    /** Builds the case's graph and feeds. */
    Ctx build() {
      Ctx c = new Ctx(name);
      body.accept(c);
      return c;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  private static long[] concrete(Shape s) {
    long[] out = new long[s.rank()];
    for (int i = 0; i < out.length; i++) {
      out[i] = s.dim(i).evaluate(BIND);
    }
    return out;
  }

  // ---- the cases ----------------------------------------------------------------------------------------------

  /** Every parity case, grouped by op. */
  static List<Case> cases() {
    List<Case> cs = new ArrayList<>();
    binaryCases(cs);
    unaryCases(cs);
    compareCases(cs);
    linalgCases(cs);
    shapingCases(cs);
    generatorCases(cs);
    reductionCases(cs);
    nnCases(cs);
    widenedOpCases(cs);
    return cs;
  }

  private static void add(List<Case> cs, String onnxType, String variant, Consumer<Ctx> body) {
    cs.add(new Case(onnxType + " " + variant, onnxType, body, null));
  }

  private static void binaryCases(List<Case> cs) {
    Map<String, BinaryOperator<Value>> ops = new LinkedHashMap<>();
    ops.put("Add", Ops::add);
    ops.put("Sub", Ops::sub);
    ops.put("Mul", Ops::mul);
    ops.put("Div", Ops::div);
    ops.put("Pow", Ops::pow);
    ops.forEach((name, f) -> {
      Gen lhs = name.equals("Pow") ? uniform(0.2, 3) : normal(1);
      Gen rhs = name.equals("Div") ? awayFromZero(0.5) : name.equals("Pow") ? normal(1.5) : normal(1);
      add(cs, name, "broadcast [batch,3,4] by [3,1]", c -> c.out("y",
          f.apply(c.in("a", DType.FLOAT32, lhs, "batch", 3, 4), c.in("b", DType.FLOAT32, rhs, 3, 1))));
      add(cs, name, "same shape [2,5]", c -> c.out("y",
          f.apply(c.in("a", DType.FLOAT32, lhs, 2, 5), c.in("b", DType.FLOAT32, rhs, 2, 5))));
      add(cs, name, "rank-0 lhs with [batch,4]", c -> c.out("y",
          f.apply(c.in("a", DType.FLOAT32, lhs), c.in("b", DType.FLOAT32, rhs, "batch", 4))));
      add(cs, name, "both broadcast [4,1] by [1,5]", c -> c.out("y",
          f.apply(c.in("a", DType.FLOAT32, lhs, 4, 1), c.in("b", DType.FLOAT32, rhs, 1, 5))));
    });
    add(cs, "Add", "int32", c -> c.out("y", Ops.add(c.in("a", DType.INT32, ints(DType.INT32, -50, 50), 2, 3),
        c.in("b", DType.INT32, ints(DType.INT32, -50, 50), 3))));
    add(cs, "Sub", "int64", c -> c.out("y", Ops.sub(c.in("a", DType.INT64, ints(DType.INT64, -50, 50), 2, 3),
        c.in("b", DType.INT64, ints(DType.INT64, -50, 50), 2, 3))));
    add(cs, "Mul", "int64", c -> c.out("y", Ops.mul(c.in("a", DType.INT64, ints(DType.INT64, -50, 50), "batch", 3),
        c.in("b", DType.INT64, ints(DType.INT64, -50, 50), 3))));
    add(cs, "Div", "int64 truncates toward zero", c -> c.out("y",
        Ops.div(c.in("a", DType.INT64, ints(DType.INT64, -50, 50), 4, 5),
            c.in("b", DType.INT64, (r, s) -> map(ints(DType.INT64, 1, 7).make(r, s),
                v -> r.nextBoolean() ? v : -v), 4, 5))));
    add(cs, "Pow", "int64", c -> c.out("y", Ops.pow(c.in("a", DType.INT64, ints(DType.INT64, -3, 4), 3, 4),
        c.in("b", DType.INT64, ints(DType.INT64, 0, 4), 3, 4))));
  }

  private static void unaryCases(List<Case> cs) {
    Map<String, UnaryOperator<Value>> ops = new LinkedHashMap<>();
    Map<String, Gen> gens = new LinkedHashMap<>();
    ops.put("Neg", Ops::neg);
    gens.put("Neg", normal(1));
    ops.put("Sqrt", Ops::sqrt);
    gens.put("Sqrt", uniform(0, 10));
    ops.put("Exp", Ops::exp);
    gens.put("Exp", normal(2));
    ops.put("Log", Ops::log);
    gens.put("Log", uniform(0.01, 20));
    ops.put("Tanh", Ops::tanh);
    gens.put("Tanh", normal(2));
    ops.put("Erf", Ops::erf);
    gens.put("Erf", normal(2.5));
    ops.put("Relu", Ops::relu);
    gens.put("Relu", normal(1));
    ops.put("Sigmoid", Ops::sigmoid);
    gens.put("Sigmoid", normal(4));
    ops.put("Identity", Ops::identity);
    gens.put("Identity", normal(1));
    ops.forEach((name, f) -> {
      add(cs, name, "[batch,4,5]", c -> c.out("y", f.apply(c.in("x", DType.FLOAT32, gens.get(name), "batch", 4, 5))));
      add(cs, name, "rank 0", c -> c.out("y", f.apply(c.in("x", DType.FLOAT32, gens.get(name)))));
    });
    add(cs, "Neg", "int64", c -> c.out("y", Ops.neg(c.in("x", DType.INT64, ints(DType.INT64, -9, 9), 2, 3))));
    add(cs, "Identity", "bool", c -> c.out("y", Ops.identity(c.in("x", DType.BOOL, bools(), "batch", 3))));
  }

  private static void compareCases(List<Case> cs) {
    Map<String, BinaryOperator<Value>> ops = new LinkedHashMap<>();
    ops.put("Equal", Ops::equal);
    ops.put("Less", Ops::less);
    ops.put("Greater", Ops::greater);
    ops.forEach((name, f) -> {
      // Small integers held as floats, so equal entries are common.
      add(cs, name, "float broadcast [batch,4] by [4]", c -> c.out("y",
          f.apply(c.in("a", DType.FLOAT32, ints(DType.FLOAT32, 0, 3), "batch", 4),
              c.in("b", DType.FLOAT32, ints(DType.FLOAT32, 0, 3), 4))));
      add(cs, name, "int64 [3,1] by [1,4]", c -> c.out("y",
          f.apply(c.in("a", DType.INT64, ints(DType.INT64, -2, 2), 3, 1),
              c.in("b", DType.INT64, ints(DType.INT64, -2, 2), 1, 4))));
    });
    add(cs, "Equal", "bool", c -> c.out("y", Ops.equal(c.in("a", DType.BOOL, bools(), 2, 5),
        c.in("b", DType.BOOL, bools(), 2, 5))));
    add(cs, "Where", "broadcast cond [batch,1,4], x [batch,3,4], y [4]", c -> c.out("y",
        Ops.where(c.in("cond", DType.BOOL, bools(), "batch", 1, 4), c.in("x", "batch", 3, 4), c.in("y0", 4))));
    add(cs, "Where", "int64 rank-0 branch", c -> c.out("y",
        Ops.where(c.in("cond", DType.BOOL, bools(), 3, 4), c.in("x", DType.INT64, ints(DType.INT64, -9, 9), 3, 4),
            c.in("y0", DType.INT64, ints(DType.INT64, -9, 9)))));
  }

  private static void linalgCases(List<Case> cs) {
    add(cs, "MatMul", "2-D", c -> c.out("y", Ops.matmul(c.in("a", 3, 4), c.in("b", 4, 5))));
    add(cs, "MatMul", "batched by shared 2-D weight", c -> c.out("y",
        Ops.matmul(c.in("a", "batch", 2, 3, 4), c.param("w", DType.FLOAT32, normal(1), 4, 5))));
    add(cs, "MatMul", "batch broadcast [2,1,3,4] x [3,4,5]", c -> c.out("y",
        Ops.matmul(c.in("a", 2, 1, 3, 4), c.in("b", 3, 4, 5))));
    add(cs, "MatMul", "batched both [batch,3,4] x [batch,4,2]", c -> c.out("y",
        Ops.matmul(c.in("a", "batch", 3, 4), c.in("b", "batch", 4, 2))));
    add(cs, "MatMul", "1-D x 2-D", c -> c.out("y", Ops.matmul(c.in("a", 4), c.in("b", 4, 5))));
    add(cs, "MatMul", "2-D x 1-D", c -> c.out("y", Ops.matmul(c.in("a", "batch", 4), c.in("b", 4))));
    add(cs, "MatMul", "1-D x 1-D", c -> c.out("y", Ops.matmul(c.in("a", 6), c.in("b", 6))));
    add(cs, "MatMul", "3-D x 1-D", c -> c.out("y", Ops.matmul(c.in("a", "batch", 3, 4), c.in("b", 4))));
    add(cs, "MatMul", "1-D x 3-D", c -> c.out("y", Ops.matmul(c.in("a", 4), c.in("b", 2, 4, 5))));

    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        String v = "transA=" + (ta ? 1 : 0) + " transB=" + (tb ? 1 : 0);
        Object[] as = ta ? new Object[] {4, 3} : new Object[] {3, 4};
        Object[] bs = tb ? new Object[] {5, 4} : new Object[] {4, 5};
        add(cs, "Gemm", v + " C[5] alpha/beta", c -> c.out("y", Ops.gemm(c.in("a", as), c.in("b", bs),
            c.in("c", 5), 0.7, 1.3, ta, tb)));
        add(cs, "Gemm", v + " no C", c -> c.out("y", Ops.gemm(c.in("a", as), c.in("b", bs), ta, tb)));
      }
    }
    add(cs, "Gemm", "C[3,5] symbolic-free alpha 2 beta 0.5", c -> c.out("y",
        Ops.gemm(c.in("a", 3, 4), c.in("b", 4, 5), c.in("c", 3, 5), 2.0, 0.5, false, false)));
    add(cs, "Gemm", "C[3,1] column broadcast", c -> c.out("y",
        Ops.gemm(c.in("a", 4, 3), c.in("b", 4, 5), c.in("c", 3, 1), 1.0, 1.0, true, false)));
    add(cs, "Gemm", "C rank 0", c -> c.out("y",
        Ops.gemm(c.in("a", 3, 4), c.in("b", 5, 4), c.in("c"), 1.0, -1.0, false, true)));
    add(cs, "Gemm", "symbolic rows [batch,4]", c -> c.out("y",
        Ops.gemm(c.in("a", "batch", 4), c.param("w", DType.FLOAT32, normal(1), 5, 4), c.in("c", 5), 1.0, 1.0,
            false, true)));

    add(cs, "Conv", "stride 1 pad 0 bias", c -> c.out("y", Ops.conv2d(c.in("x", "batch", 3, 7, 8),
        c.param("w", DType.FLOAT32, normal(0.5), 4, 3, 3, 3), c.in("bias", 4), new long[] {1, 1},
        new long[] {0, 0, 0, 0})));
    add(cs, "Conv", "stride 2 pad 1 bias", c -> c.out("y", Ops.conv2d(c.in("x", "batch", 3, 7, 8),
        c.param("w", DType.FLOAT32, normal(0.5), 4, 3, 3, 3), c.param("bias", DType.FLOAT32, normal(1), 4),
        new long[] {2, 2}, new long[] {1, 1, 1, 1})));
    add(cs, "Conv", "strides (2,1) asymmetric pads no bias", c -> c.out("y", Ops.conv2d(c.in("x", 2, 2, 6, 5),
        c.in("w", 3, 2, 2, 3), null, new long[] {2, 1}, new long[] {0, 1, 2, 1})));
    add(cs, "Conv", "non-overlapping patches stride 4", c -> c.out("y", Ops.conv2d(c.in("x", "batch", 3, 8, 8),
        c.param("w", DType.FLOAT32, normal(0.5), 6, 3, 4, 4), c.in("bias", 6), new long[] {4, 4},
        new long[] {0, 0, 0, 0})));
  }

  private static final Attr<Long> AXIS = Attr.integer("axis");
  private static final Attr<Long> START = Attr.integer("start");
  private static final Attr<Long> END = Attr.integer("end");

  private static OpDef op(String onnxType) {
    OpDef op = Ops.byOnnxType(onnxType);
    if (op == null) {
      throw new IllegalArgumentException("no registered op " + onnxType);
    }
    return op;
  }

  private static void shapingCases(List<Case> cs) {
    add(cs, "Transpose", "perm (2,0,1)", c -> c.out("y", Ops.transpose(c.in("x", "batch", 3, 4), 2, 0, 1)));
    add(cs, "Transpose", "default perm reverses", c -> c.out("y",
        c.g.apply1(op("Transpose"), Attributes.none(), c.in("x", 2, 3, 4))));
    add(cs, "Transpose", "int64 4-D", c -> c.out("y",
        Ops.transpose(c.in("x", DType.INT64, ints(DType.INT64, -9, 9), 2, 3, 4, 5), 0, 2, 3, 1)));

    add(cs, "Reshape", "(0,-1) keeps batch", c -> c.out("y", Ops.reshape(c.in("x", "batch", 3, 4), 0, -1)));
    add(cs, "Reshape", "(4,-1,2)", c -> c.out("y", Ops.reshape(c.in("x", 2, 3, 4), 4, -1, 2)));
    add(cs, "Reshape", "(-1) to rank 1", c -> c.out("y", Ops.reshape(c.in("x", 2, 3, 4), -1)));
    add(cs, "Reshape", "(0,0,2,2) splits the last axis", c -> c.out("y",
        Ops.reshape(c.in("x", "batch", 3, 4), 0, 0, 2, 2)));
    add(cs, "Reshape", "to a run-time shape", c -> c.out("y",
        Ops.reshapeLike(c.in("x", "batch", 12), c.in("like", "batch", 3, 4))));

    for (long axis : new long[] {0, 1, 2, 3, -1}) {
      add(cs, "Flatten", "axis " + axis, c -> c.out("y", Ops.flatten(c.in("x", "batch", 3, 4), axis)));
    }

    add(cs, "Concat", "axis 1, three parts", c -> c.out("y",
        Ops.concat(1, c.in("a", "batch", 2, 4), c.in("b", "batch", 3, 4), c.in("c", "batch", 1, 4))));
    add(cs, "Concat", "axis -1", c -> c.out("y", Ops.concat(-1, c.in("a", 2, 3), c.in("b", 2, 5))));
    add(cs, "Concat", "int64 shape values", c -> c.out("y",
        Ops.concat(0, Ops.shapeOf(c.in("x", "batch", 3)), Ops.ints(c.in("z", 1), 7, 8))));

    add(cs, "Split", "axis 1 sizes (1,2,3)", c -> {
      List<Value> parts = Ops.split(c.in("x", "batch", 6, 2), 1, 1, 2, 3);
      for (int i = 0; i < parts.size(); i++) {
        c.out("y" + i, parts.get(i));
      }
    });
    add(cs, "Split", "axis -1 sizes (2,2)", c -> {
      List<Value> parts = Ops.split(c.in("x", 3, 4), -1, 2, 2);
      c.out("y0", parts.get(0));
      c.out("y1", parts.get(1));
    });

    add(cs, "Slice", "negative starts/ends, step 2", c -> c.out("y", Ops.slice(c.in("x", 5, 6, 7),
        new long[] {-4, 1}, new long[] {-1, 100}, new long[] {0, 2}, new long[] {1, 2})));
    add(cs, "Slice", "negative step past the start", c -> c.out("y", Ops.slice(c.in("x", 5, 6),
        new long[] {-1}, new long[] {-100}, new long[] {1}, new long[] {-2})));
    add(cs, "Slice", "negative step, negative axis", c -> c.out("y", Ops.slice(c.in("x", "batch", 7),
        new long[] {5}, new long[] {1}, new long[] {-1}, new long[] {-1})));
    add(cs, "Slice", "end -2 step 1", c -> c.out("y", Ops.slice(c.in("x", 4, 7),
        new long[] {1}, new long[] {-2}, new long[] {1}, new long[] {1})));
    add(cs, "Slice", "end -1 on the symbolic axis", c -> c.out("y", Ops.slice(c.in("x", "batch", 4),
        new long[] {0}, new long[] {-1}, new long[] {0}, new long[] {1})));
    add(cs, "Slice", "start 1 to the end of the symbolic axis", c -> c.out("y", Ops.slice(c.in("x", "batch", 4),
        new long[] {1}, new long[] {Long.MAX_VALUE}, new long[] {0}, new long[] {1})));
    add(cs, "Slice", "fixed end within the symbolic axis", c -> c.out("y", Ops.slice(c.in("x", "batch", 4),
        new long[] {1}, new long[] {3}, new long[] {0}, new long[] {1})));
    add(cs, "Slice", "step 3 with batch kept", c -> c.out("y", Ops.slice(c.in("x", "batch", 10, 4),
        new long[] {1}, new long[] {10}, new long[] {1}, new long[] {3})));

    add(cs, "Gather", "axis 0 with negative indices", c -> c.out("y", Ops.gather(c.in("x", 5, 4),
        c.in("idx", DType.INT64, ints(DType.INT64, -5, 5), "batch", 2), 0)));
    add(cs, "Gather", "axis 1", c -> c.out("y", Ops.gather(c.in("x", "batch", 5, 3),
        c.in("idx", DType.INT64, ints(DType.INT64, 0, 5), 4), 1)));
    add(cs, "Gather", "axis 1 with negative indices", c -> c.out("y", Ops.gather(c.in("x", 2, 5, 3),
        c.in("idx", DType.INT64, ints(DType.INT64, -5, 5), 2, 2), 1)));
    add(cs, "Gather", "scalar index axis 1", c -> c.out("y", Ops.gather(c.in("x", "batch", 5, 3),
        c.in("idx", DType.INT64, ints(DType.INT64, 0, 5)), 1)));
    add(cs, "Gather", "scalar constant index axis 0", c -> c.out("y", Ops.gather(c.in("x", 5, 3),
        c.constant(Tensor.scalar(DType.INT64, 3)), 0)));
    add(cs, "Gather", "int32 indices", c -> c.out("y", Ops.gather(c.in("x", 6, 2),
        c.in("idx", DType.INT32, ints(DType.INT32, 0, 6), 2, 3), 0)));

    add(cs, "Unsqueeze", "axes (0,-1)", c -> c.out("y", Ops.unsqueeze(c.in("x", "batch", 3), 0, -1)));
    add(cs, "Unsqueeze", "rank 0", c -> c.out("y", Ops.unsqueeze(c.in("x"), 0)));
    add(cs, "Unsqueeze", "middle axes (1,3)", c -> c.out("y", Ops.unsqueeze(c.in("x", 2, 3, 4), 1, 3)));

    add(cs, "Squeeze", "axes (1,3)", c -> c.out("y", Ops.squeeze(c.in("x", "batch", 1, 3, 1), 1, 3)));
    add(cs, "Squeeze", "axis -1", c -> c.out("y", Ops.squeeze(c.in("x", 2, 3, 1), -1)));
    add(cs, "Squeeze", "no axes squeezes all ones", c -> c.out("y",
        c.g.apply1(op("Squeeze"), Attributes.none(), c.in("x", 2, 1, 3, 1))));

    add(cs, "Expand", "[3,1] to constant [2,3,4]", c -> c.out("y",
        Ops.expand(c.in("x", 3, 1), c.constant(Tensor.longs(2, 3, 4)))));
    add(cs, "Expand", "[1,4] to a run-time [batch,4]", c -> c.out("y",
        Ops.expandLike(c.in("x", 1, 4), c.in("like", "batch", 4))));
    add(cs, "Expand", "rank grows, 1 in target", c -> c.out("y",
        Ops.expand(c.in("x", 2, 1, 5), c.constant(Tensor.longs(3, 1, 4, 1)))));

    add(cs, "Cast", "float32 to int64 truncates", c -> c.out("y",
        Ops.cast(c.in("x", DType.FLOAT32, normal(5), "batch", 4), DType.INT64)));
    add(cs, "Cast", "float32 to float64", c -> c.out("y", Ops.cast(c.in("x", "batch", 4), DType.FLOAT64)));
    add(cs, "Cast", "float64 to float32", c -> c.out("y",
        Ops.cast(c.in("x", DType.FLOAT64, (r, s) -> Tensor.randn(DType.FLOAT64, r, 3, s), 2, 4), DType.FLOAT32)));
    add(cs, "Cast", "int64 to float32", c -> c.out("y",
        Ops.cast(c.in("x", DType.INT64, ints(DType.INT64, -100, 100), 2, 4), DType.FLOAT32)));
    add(cs, "Cast", "float32 to bool", c -> c.out("y",
        Ops.cast(c.in("x", DType.FLOAT32, ints(DType.FLOAT32, -1, 2), 3, 4), DType.BOOL)));
    add(cs, "Cast", "bool to float32", c -> c.out("y", Ops.cast(c.in("x", DType.BOOL, bools(), 3, 4),
        DType.FLOAT32)));
    add(cs, "Cast", "int64 to int32", c -> c.out("y",
        Ops.cast(c.in("x", DType.INT64, ints(DType.INT64, -1000, 1000), 5), DType.INT32)));
    add(cs, "Cast", "int32 to int64", c -> c.out("y",
        Ops.cast(c.in("x", DType.INT32, ints(DType.INT32, -1000, 1000), 5), DType.INT64)));

    add(cs, "Shape", "of [batch,3,4]", c -> c.out("y", Ops.shapeOf(c.in("x", "batch", 3, 4))));
    add(cs, "Shape", "dimOf batch", c -> c.out("y", Ops.dimOf(c.in("x", "batch", 3, 4), 0)));
    add(cs, "Shape", "start -2", c -> c.out("y", c.g.apply1(op("Shape"), Attributes.of(START, -2L),
        c.in("x", "batch", 3, 4))));
    add(cs, "Shape", "start 1 end -1", c -> c.out("y", c.g.apply1(op("Shape"),
        Attributes.of(START, 1L, END, -1L), c.in("x", "batch", 3, 4, 5))));
  }

  private static void generatorCases(List<Case> cs) {
    add(cs, "Range", "float32 inputs", c -> c.out("y", Ops.range(
        c.in("start", DType.FLOAT32, (r, s) -> Tensor.scalar(DType.FLOAT32, 1.5)),
        c.in("limit", DType.FLOAT32, (r, s) -> Tensor.scalar(DType.FLOAT32, 7.2)),
        c.in("delta", DType.FLOAT32, (r, s) -> Tensor.scalar(DType.FLOAT32, 0.7)))));
    add(cs, "Range", "int64 constants", c -> {
      Value s = c.constant(Tensor.scalar(DType.INT64, 0));
      c.out("y", Ops.range(s, c.constant(Tensor.scalar(DType.INT64, 10)), c.constant(Tensor.scalar(DType.INT64, 3))));
    });
    add(cs, "Range", "int64 negative delta inputs", c -> c.out("y", Ops.range(
        c.in("start", DType.INT64, (r, s) -> Tensor.scalar(DType.INT64, 5)),
        c.in("limit", DType.INT64, (r, s) -> Tensor.scalar(DType.INT64, -6)),
        c.in("delta", DType.INT64, (r, s) -> Tensor.scalar(DType.INT64, -2)))));
    add(cs, "Range", "0..dim of a symbolic input", c -> {
      Value x = c.in("x", "batch", 2);
      Value n = Ops.reshape(Ops.dimOf(x, 0), new long[0]);
      c.out("y", Ops.range(Ops.constantLike(x, Tensor.scalar(DType.INT64, 0)), n,
          Ops.constantLike(x, Tensor.scalar(DType.INT64, 1))));
    });

    add(cs, "Constant", "float32 [2,3]", c -> c.out("y",
        c.constant(Tensor.randn(DType.FLOAT32, new Random(1), 1, 2, 3))));
    add(cs, "Constant", "int64 rank 0", c -> c.out("y", c.constant(Tensor.scalar(DType.INT64, -42))));
    add(cs, "Constant", "bool", c -> c.out("y",
        c.constant(new Tensor(DType.BOOL, new long[] {2, 2}, new double[] {1, 0, 0, 1}))));
    add(cs, "Constant", "added to an input", c -> c.out("y", Ops.add(c.in("x", "batch", 3),
        c.constant(Tensor.floats(new long[] {3}, 1.5f, -2f, 0.25f)))));
    add(cs, "Constant", "float64", c -> c.out("y",
        c.constant(Tensor.randn(DType.FLOAT64, new Random(2), 1, 4))));

    add(cs, "ConstantOfShape", "float fill, run-time shape", c -> c.out("y",
        Ops.constantOfShape(Ops.shapeOf(c.in("x", "batch", 3)), Tensor.full(DType.FLOAT32, 2.5, 1))));
    add(cs, "ConstantOfShape", "int64 fill, constant shape", c -> c.out("y",
        Ops.constantOfShape(c.constant(Tensor.longs(2, 3)), Tensor.full(DType.INT64, 7, 1))));
    add(cs, "ConstantOfShape", "no value: float32 zeros", c -> c.out("y",
        c.g.apply1(op("ConstantOfShape"), Attributes.none(), c.constant(Tensor.longs(3, 2)))));
    add(cs, "ConstantOfShape", "bool fill", c -> c.out("y",
        Ops.constantOfShape(Ops.shapeOf(c.in("x", "batch", 2)), Tensor.full(DType.BOOL, 1, 1))));

    add(cs, "Pad", "begin and end on fixed axes, batch kept", c -> c.out("y", Ops.pad(c.in("x", "batch", 3, 4),
        0, 1, 2, 0, 3, 0)));
    add(cs, "Pad", "negative pads crop", c -> c.out("y", Ops.pad(c.in("x", 5, 6), -1, 2, 1, -3)));
    add(cs, "Trilu", "upper k=1", c -> c.out("y", Ops.trilu(c.in("x", "batch", 4, 5), true,
        c.constant(Tensor.scalar(DType.INT64, 1)))));
    add(cs, "Trilu", "lower k=-1", c -> c.out("y", Ops.trilu(c.in("x", "batch", 4, 5), false,
        c.constant(Tensor.scalar(DType.INT64, -1)))));
    add(cs, "Trilu", "upper no k", c -> c.out("y", Ops.trilu(c.in("x", 5, 4), true, null)));
    add(cs, "Trilu", "lower no k", c -> c.out("y", Ops.trilu(c.in("x", 2, 5, 4), false, null)));
    add(cs, "Trilu", "lower k=2 as input", c -> c.out("y", Ops.trilu(c.in("x", 5, 4), false,
        c.in("k", DType.INT64, (r, s) -> Tensor.scalar(DType.INT64, 2)))));
    add(cs, "Trilu", "upper k=-2 as input", c -> c.out("y", Ops.trilu(c.in("x", 4, 6), true,
        c.in("k", DType.INT64, (r, s) -> Tensor.scalar(DType.INT64, -2)))));

    add(cs, "OneHot", "depth 5 with negative indices", c -> c.out("y",
        Ops.oneHot(c.in("idx", DType.INT64, ints(DType.INT64, -5, 5), "batch", 3), 5)));
    add(cs, "OneHot", "label smoothing values", c -> c.out("y",
        Ops.oneHot(c.in("idx", DType.INT64, ints(DType.INT64, 0, 4), 6), 4, Tensor.floats(new long[] {2}, 0.05f,
            0.85f))));
    add(cs, "OneHot", "indices outside [-depth, depth) give all-off rows", c -> c.out("y",
        Ops.oneHot(c.in("idx", DType.INT64, ints(DType.INT64, -8, 8), 4, 3), 5)));
    add(cs, "OneHot", "axis 1", c -> {
      Value idx = c.in("idx", DType.INT64, ints(DType.INT64, 0, 4), 2, 3);
      c.out("y", c.g.apply1(op("OneHot"), Attributes.of(AXIS, 1L), idx,
          c.constant(Tensor.scalar(DType.INT64, 4)), c.constant(Tensor.floats(new long[] {2}, -1f, 2f))));
    });
  }

  private static void reductionCases(List<Case> cs) {
    for (String name : List.of("ReduceSum", "ReduceMean", "ReduceMax")) {
      for (boolean keep : new boolean[] {false, true}) {
        String k = " keepdims " + (keep ? 1 : 0);
        add(cs, name, "axes (1)" + k, c -> c.out("y", reduce(name, c.in("x", "batch", 3, 4), keep, 1)));
        add(cs, name, "axes (0,2)" + k, c -> c.out("y", reduce(name, c.in("x", "batch", 3, 4), keep, 0, 2)));
        add(cs, name, "axes (-1,-3)" + k, c -> c.out("y", reduce(name, c.in("x", 2, 3, 4, 5), keep, -1, -3)));
        add(cs, name, "all axes" + k, c -> c.out("y", reduce(name, c.in("x", "batch", 3, 4), keep)));
      }
    }
    add(cs, "ReduceMax", "int64", c -> c.out("y",
        Ops.reduceMax(c.in("x", DType.INT64, ints(DType.INT64, -99, 99), 3, 4), false, 1)));
    add(cs, "ReduceSum", "int64", c -> c.out("y",
        Ops.reduceSum(c.in("x", DType.INT64, ints(DType.INT64, -99, 99), 3, 4), true, 0)));

    for (long axis : new long[] {-1, 1, 0}) {
      add(cs, "Softmax", "axis " + axis, c -> c.out("y", Ops.softmax(c.in("x", DType.FLOAT32, normal(3),
          "batch", 4, 5), axis)));
      add(cs, "LogSoftmax", "axis " + axis, c -> c.out("y", Ops.logSoftmax(c.in("x", DType.FLOAT32, normal(3),
          "batch", 4, 5), axis)));
    }
  }

  private static Value reduce(String name, Value x, boolean keep, long... axes) {
    return switch (name) {
      case "ReduceSum" -> Ops.reduceSum(x, keep, axes);
      case "ReduceMean" -> Ops.reduceMean(x, keep, axes);
      default -> Ops.reduceMax(x, keep, axes);
    };
  }

  private static void nnCases(List<Case> cs) {
    add(cs, "LayerNormalization", "axis -1 with bias", c -> c.out("y", Ops.layerNorm(
        c.in("x", DType.FLOAT32, (r, s) -> map(Tensor.randn(DType.FLOAT32, r, 2, s), v -> v + 1), "batch", 5, 8),
        c.param("scale", DType.FLOAT32, normal(1), 8), c.param("bias", DType.FLOAT32, normal(1), 8), -1, 1e-5)));
    add(cs, "LayerNormalization", "axis 1 no bias", c -> c.out("y", Ops.layerNorm(c.in("x", "batch", 3, 4),
        c.param("scale", DType.FLOAT32, normal(1), 3, 4), null, 1, 1e-3)));
    add(cs, "LayerNormalization", "inputs as graph inputs", c -> c.out("y", Ops.layerNorm(c.in("x", 2, 6),
        c.in("scale", 6), c.in("bias", 6), -1, 1e-5)));

    add(cs, "Dropout", "training ratio 0 is identity, mask all true", c -> {
      List<Value> r = Ops.dropout(c.in("x", "batch", 4, 5), 0.0, 7);
      c.out("y", r.get(0));
      c.out("mask", r.get(1));
    });
    cs.add(new Case("Dropout training ratio 0: explicit identity check", "Dropout", c -> {
      List<Value> r = Ops.dropout(c.in("x", "batch", 4, 5), 0.0, 7);
      c.out("y", r.get(0));
      c.out("mask", r.get(1));
      c.out("x_copy", c.g.inputs().get(0));
    }, (ref, got) -> {
      Tolerance.assertExact(got.get("y"), got.get("x_copy"), "ORT dropout(ratio 0) output vs x");
      assertTrue(Arrays.stream(got.get("mask").toDoubles()).allMatch(v -> v == 1), "ratio 0 mask must be all true");
      Tolerance.assertExact(ref.get("y"), ref.get("x_copy"), "reference dropout(ratio 0) output vs x");
    }));
    cs.add(new Case("Dropout training ratio 0.5: kept = x/(1-0.5), about half kept", "Dropout", c -> {
      List<Value> r = Ops.dropout(c.in("x", DType.FLOAT32, awayFromZero(0.1), "batch", 20, 20), 0.5, 42);
      c.out("y", r.get(0));
      c.out("mask", r.get(1));
      c.out("x_copy", c.g.inputs().get(0));
    }, (ref, got) -> {
      checkDropoutHalf(got, "ONNX Runtime");
      checkDropoutHalf(ref, "reference");
    }));
  }

  private static final long[] S1 = {1, 1};

  /** The ops added for imported models, with the variants exporters produce. */
  private static void widenedOpCases(List<Case> cs) {
    for (boolean tanh : new boolean[] {false, true}) {
      String v = tanh ? "tanh" : "exact";
      add(cs, "Gelu", v + " at opset 17 (decomposed)", c -> c.out("y",
          Ops.gelu(c.in("x", DType.FLOAT32, normal(2), "batch", 4, 5), tanh)));
      cs.add(new Case("Gelu " + v + " at opset 20 (native)", "Gelu", c -> c.out("y",
          Ops.gelu(c.in("x", DType.FLOAT32, normal(2), "batch", 4, 5), tanh)), null, 20));
    }
    add(cs, "Min", "two operands broadcast [batch,3,4] by [4]", c -> c.out("y",
        Ops.min(c.in("a", "batch", 3, 4), c.in("b", 4))));
    add(cs, "Min", "int64 three operands", c -> c.out("y", Ops.min(c.in("a", DType.INT64, ints(DType.INT64, -9, 9), 2, 3),
        c.in("b", DType.INT64, ints(DType.INT64, -9, 9), 3), c.in("c", DType.INT64, ints(DType.INT64, -9, 9), 2, 1))));
    add(cs, "Max", "three operands broadcast", c -> c.out("y",
        Ops.max(c.in("a", 2, 3), c.in("b", 3), c.in("c", 2, 1))));
    add(cs, "Max", "one operand", c -> c.out("y", Ops.max(c.in("a", "batch", 3))));
    add(cs, "Clip", "both bounds as inputs", c -> c.out("y", Ops.clip(c.in("x", DType.FLOAT32, normal(2), "batch", 5),
        c.in("lo", DType.FLOAT32, (r, sh) -> Tensor.scalar(DType.FLOAT32, -0.5)),
        c.in("hi", DType.FLOAT32, (r, sh) -> Tensor.scalar(DType.FLOAT32, 0.75)))));
    add(cs, "Clip", "max only (min omitted)", c -> c.out("y", Ops.clip(c.in("x", DType.FLOAT32, normal(2), 3, 4),
        null, c.constant(Tensor.scalar(DType.FLOAT32, 0.3)))));
    add(cs, "Clip", "no bounds", c -> c.out("y", Ops.clip(c.in("x", 3, 4), null, null)));
    add(cs, "Clip", "int64 min only", c -> c.out("y", Ops.clip(c.in("x", DType.INT64, ints(DType.INT64, -9, 9), 3, 4),
        c.constant(Tensor.scalar(DType.INT64, -2)), null)));
    add(cs, "Abs", "float [batch,4]", c -> c.out("y", Ops.abs(c.in("x", "batch", 4))));
    add(cs, "Abs", "int64", c -> c.out("y", Ops.abs(c.in("x", DType.INT64, ints(DType.INT64, -9, 9), 5))));
    add(cs, "Floor", "[batch,4]", c -> c.out("y", Ops.floor(c.in("x", DType.FLOAT32, normal(4), "batch", 4))));
    add(cs, "Ceil", "[batch,4]", c -> c.out("y", Ops.ceil(c.in("x", DType.FLOAT32, normal(4), "batch", 4))));
    add(cs, "Sin", "[batch,4]", c -> c.out("y", Ops.sin(c.in("x", DType.FLOAT32, normal(3), "batch", 4))));
    add(cs, "Cos", "[batch,4]", c -> c.out("y", Ops.cos(c.in("x", DType.FLOAT32, normal(3), "batch", 4))));
    add(cs, "Not", "[batch,3]", c -> c.out("y", Ops.not(c.in("p", DType.BOOL, bools(), "batch", 3))));
    add(cs, "And", "broadcast [3,1] by [4]", c -> c.out("y", Ops.and(c.in("p", DType.BOOL, bools(), 3, 1),
        c.in("q", DType.BOOL, bools(), 4))));
    add(cs, "Or", "broadcast [batch,4] by [4]", c -> c.out("y", Ops.or(c.in("p", DType.BOOL, bools(), "batch", 4),
        c.in("q", DType.BOOL, bools(), 4))));

    add(cs, "Einsum", "bij,bjk->bik", c -> c.out("y", Ops.einsum("bij,bjk->bik", c.in("a", "batch", 3, 4),
        c.in("b", "batch", 4, 5))));
    add(cs, "Einsum", "bhid,bhjd->bhij", c -> c.out("y", Ops.einsum("bhid,bhjd->bhij", c.in("q", 2, 3, 4, 5),
        c.in("k", 2, 3, 6, 5))));
    add(cs, "Einsum", "...ij,...jk->...ik with a broadcast ellipsis dim", c -> c.out("y", Ops.einsum(
        "...ij,...jk->...ik", c.in("a", 2, 3, 4, 5), c.in("b", 2, 1, 5, 2))));
    add(cs, "Einsum", "ellipsis on one operand only: ...ij,jk->...ik", c -> c.out("y", Ops.einsum(
        "...ij,jk->...ik", c.in("a", "batch", 3, 4), c.in("b", 4, 2))));
    add(cs, "Einsum", "ij->ji", c -> c.out("y", Ops.einsum("ij->ji", c.in("a", 3, 4))));
    add(cs, "Einsum", "ij->i", c -> c.out("y", Ops.einsum("ij->i", c.in("a", 3, 4))));
    add(cs, "Einsum", "outer i,j->ij", c -> c.out("y", Ops.einsum("i,j->ij", c.in("a", 3), c.in("b", 5))));
    add(cs, "Einsum", "implicit ij,jk", c -> c.out("y", Ops.einsum("ij,jk", c.in("a", 3, 4), c.in("b", 4, 2))));
    add(cs, "Einsum", "three operands ij,jk,kl->il", c -> c.out("y", Ops.einsum("ij,jk,kl->il", c.in("a", 2, 3),
        c.in("b", 3, 4), c.in("c", 4, 2))));
    add(cs, "Einsum", "full contraction ij,ij->", c -> c.out("y", Ops.einsum("ij,ij->", c.in("a", 3, 4),
        c.in("b", 3, 4))));

    add(cs, "Conv", "2-D overlapping 3x3 pad 1 bias", c -> c.out("y", Ops.conv(c.in("x", "batch", 3, 6, 5),
        c.param("w", DType.FLOAT32, normal(0.5), 4, 3, 3, 3), c.in("bias", 4), S1, new long[] {1, 1, 1, 1}, S1, 1)));
    add(cs, "Conv", "2-D dilation 2 stride 2", c -> c.out("y", Ops.conv(c.in("x", 2, 2, 9, 8),
        c.in("w", 3, 2, 3, 2), null, new long[] {2, 2}, new long[] {1, 0, 1, 2}, new long[] {2, 2}, 1)));
    add(cs, "Conv", "2-D groups 2", c -> c.out("y", Ops.conv(c.in("x", 2, 4, 6, 6), c.in("w", 6, 2, 3, 3),
        c.in("bias", 6), S1, new long[] {1, 1, 1, 1}, S1, 2)));
    add(cs, "Conv", "2-D depthwise groups = channels", c -> c.out("y", Ops.conv(c.in("x", "batch", 3, 5, 5),
        c.in("w", 3, 1, 3, 3), null, new long[] {2, 2}, new long[] {1, 1, 1, 1}, S1, 3)));
    add(cs, "Conv", "1-D stride 2 pad 1 dilation 2", c -> c.out("y", Ops.conv(c.in("x", "batch", 3, 11),
        c.in("w", 4, 3, 3), c.in("bias", 4), new long[] {2}, new long[] {1, 1}, new long[] {2}, 1)));
    add(cs, "Conv", "3-D", c -> c.out("y", Ops.conv(c.in("x", 1, 2, 4, 5, 4), c.in("w", 2, 2, 2, 3, 2), null,
        new long[] {1, 2, 1}, new long[] {0, 1, 1, 0, 1, 0}, new long[] {1, 1, 1}, 1)));
    for (String auto : List.of("SAME_UPPER", "SAME_LOWER", "VALID")) {
      add(cs, "Conv", "auto_pad " + auto + " stride 2", c -> c.out("y", Ops.conv(c.in("x", 1, 2, 7, 6),
          c.in("w", 3, 2, 3, 2), null, Attributes.of(Ops.AUTO_PAD, auto, Ops.STRIDES, new long[] {2, 2}))));
    }
    add(cs, "ConvTranspose", "2-D stride 2 pad 1 output_padding 1 bias", c -> c.out("y", Ops.convTranspose(
        c.in("x", "batch", 3, 4, 4), c.in("w", 3, 2, 3, 3), c.in("bias", 2), new long[] {2, 2},
        new long[] {1, 1, 1, 1}, S1, new long[] {1, 1}, 1)));
    add(cs, "ConvTranspose", "2-D groups 2 dilation 2", c -> c.out("y", Ops.convTranspose(c.in("x", 2, 4, 3, 4),
        c.in("w", 4, 3, 2, 2), null, S1, new long[] {0, 1, 1, 0}, new long[] {2, 2}, new long[] {0, 0}, 2)));
    add(cs, "ConvTranspose", "1-D stride 3", c -> c.out("y", Ops.convTranspose(c.in("x", 2, 2, 5),
        c.in("w", 2, 3, 4), null, new long[] {3}, new long[] {1, 2}, new long[] {1}, new long[] {2}, 1)));

    add(cs, "BatchNormalization", "inference 4-D", c -> c.out("y", Ops.batchNorm(c.in("x", "batch", 3, 4, 5),
        c.in("scale", 3), c.in("bias", 3), c.in("mean", 3), c.in("var", DType.FLOAT32, uniform(0.5, 2), 3), 1e-5)));
    add(cs, "BatchNormalization", "inference rank 2", c -> c.out("y", Ops.batchNorm(c.in("x", "batch", 4),
        c.in("scale", 4), c.in("bias", 4), c.in("mean", 4), c.in("var", DType.FLOAT32, uniform(0.5, 2), 4), 1e-3)));
    add(cs, "BatchNormalization", "training mode 4-D, running statistics out", c -> {
      List<Value> r = Ops.batchNormTraining(c.in("x", DType.FLOAT32, (rng, sh) -> map(Tensor.randn(DType.FLOAT32,
          rng, 2, sh), v -> v + 1), "batch", 3, 4, 5), c.in("scale", 3), c.in("bias", 3), c.in("mean", 3),
          c.in("var", DType.FLOAT32, uniform(0.5, 2), 3), 1e-5, 0.9);
      c.out("y", r.get(0));
      c.out("running_mean", r.get(1));
      c.out("running_var", r.get(2));
    });
    add(cs, "BatchNormalization", "training mode, one tensor feeding scale, B, mean and var, Y only", c -> {
      // ONNX Runtime's native training-mode kernel gets this wrong (it is why that mode lowers to its formula).
      Value p = c.in("p", DType.FLOAT32, uniform(0.5, 2), 2);
      c.out("y", Ops.batchNormTraining(c.in("x", 1, 2, 4, 4), p, p, p, p, 1e-5, 0.9).get(0));
    });
    add(cs, "BatchNormalization", "training mode rank 3", c -> {
      List<Value> r = Ops.batchNormTraining(c.in("x", 4, 2, 6), c.in("scale", 2), c.in("bias", 2), c.in("mean", 2),
          c.in("var", DType.FLOAT32, uniform(0.5, 2), 2), 1e-3, 0.7);
      c.out("y", r.get(0));
      c.out("running_mean", r.get(1));
      c.out("running_var", r.get(2));
    });

    add(cs, "MaxPool", "3x3 stride 2 pad 1 with Indices", c -> {
      List<Value> r = Ops.maxPool(c.in("x", "batch", 2, 7, 6), Attributes.of(Ops.KERNEL_SHAPE, new long[] {3, 3},
          Ops.STRIDES, new long[] {2, 2}).with(Ops.PADS, new long[] {1, 1, 1, 1}));
      c.out("y", r.get(0));
      c.out("indices", r.get(1));
    });
    add(cs, "MaxPool", "2x2 dilation 2 with Indices", c -> {
      List<Value> r = Ops.maxPool(c.in("x", 2, 3, 7, 7), Attributes.of(Ops.KERNEL_SHAPE, new long[] {2, 2},
          Ops.DILATIONS, new long[] {2, 2}));
      c.out("y", r.get(0));
      c.out("indices", r.get(1));
    });
    add(cs, "MaxPool", "1-D kernel 3 stride 2 with Indices", c -> {
      List<Value> r = Ops.maxPool(c.in("x", 2, 3, 9), Attributes.of(Ops.KERNEL_SHAPE, new long[] {3},
          Ops.STRIDES, new long[] {2}));
      c.out("y", r.get(0));
      c.out("indices", r.get(1));
    });
    add(cs, "MaxPool", "auto_pad SAME_UPPER", c -> c.out("y", Ops.maxPool(c.in("x", 1, 2, 5, 6),
        Attributes.of(Ops.KERNEL_SHAPE, new long[] {3, 3}, Ops.STRIDES, new long[] {2, 2})
            .with(Ops.AUTO_PAD, "SAME_UPPER")).get(0)));
    for (boolean incl : new boolean[] {false, true}) {
      add(cs, "AveragePool", "3x3 stride 2 pad 1 count_include_pad " + (incl ? 1 : 0), c -> c.out("y",
          Ops.averagePool(c.in("x", "batch", 2, 7, 6), new long[] {3, 3}, new long[] {2, 2},
              new long[] {1, 1, 1, 1}, incl)));
      add(cs, "AveragePool", "1-D asymmetric pads count_include_pad " + (incl ? 1 : 0), c -> c.out("y",
          Ops.averagePool(c.in("x", 2, 3, 8), new long[] {3}, new long[] {1}, new long[] {2, 1}, incl)));
    }
    add(cs, "MaxPool", "ceil_mode 1 with Indices", c -> {
      List<Value> r = Ops.maxPool(c.in("x", "batch", 2, 6, 7), Attributes.of(Ops.KERNEL_SHAPE, new long[] {3, 3},
          Ops.STRIDES, new long[] {2, 2}).with(Ops.PADS, new long[] {1, 0, 0, 1}).with(Ops.CEIL_MODE, 1L));
      c.out("y", r.get(0));
      c.out("indices", r.get(1));
    });
    for (long cip = 0; cip < 2; cip++) {
      long incl = cip;
      add(cs, "AveragePool", "ceil_mode 1 count_include_pad " + incl, c -> c.out("y", Ops.averagePool(
          c.in("x", "batch", 2, 6, 7), Attributes.of(Ops.KERNEL_SHAPE, new long[] {3, 2}, Ops.STRIDES,
              new long[] {2, 2}).with(Ops.PADS, new long[] {1, 0, 1, 0}).with(Ops.CEIL_MODE, 1L)
              .with(Ops.COUNT_INCLUDE_PAD, incl))));
    }
    add(cs, "GlobalAveragePool", "2-D", c -> c.out("y", Ops.globalAveragePool(c.in("x", "batch", 3, 4, 5))));
    add(cs, "GlobalAveragePool", "1-D", c -> c.out("y", Ops.globalAveragePool(c.in("x", 2, 3, 7))));

    add(cs, "ScatterElements", "add with repeated indices", c -> c.out("y", Ops.scatterElements(c.in("data", 6),
        c.constant(Tensor.longs(1, 4, 1, 0, 4)), c.in("upd", 5), 0, "add")));
    add(cs, "ScatterElements", "none, 2-D axis 1", c -> c.out("y", Ops.scatterElements(c.in("data", 3, 5),
        c.constant(Tensor.longs(4, 0, 2, 1, 3, 0).reshape(3, 2)), c.in("upd", 3, 2), 1, "none")));
    add(cs, "ScatterElements", "add, 2-D axis 0, int32 indices", c -> c.out("y", Ops.scatterElements(
        c.in("data", 3, 4), c.in("idx", DType.INT32, ints(DType.INT32, -3, 3), 2, 4), c.in("upd", 2, 4), 0, "add")));
    add(cs, "GatherElements", "axis 1 with negative indices", c -> c.out("y", Ops.gatherElements(c.in("x", 3, 5),
        c.in("idx", DType.INT64, ints(DType.INT64, -5, 5), 3, 4), 1)));
    add(cs, "GatherElements", "axis 0, fewer rows than data", c -> c.out("y", Ops.gatherElements(
        c.in("x", 4, 3, 2), c.in("idx", DType.INT64, ints(DType.INT64, 0, 4), 2, 3, 2), 0)));
  }

  private static void checkDropoutHalf(Map<String, Tensor> res, String who) {
    Tensor x = res.get("x_copy");
    Tensor y = res.get("y");
    Tensor m = res.get("mask");
    assertEquals(DType.BOOL, m.dtype(), who + " mask dtype");
    int kept = 0;
    for (int i = 0; i < x.size(); i++) {
      if (m.get(i) != 0) {
        kept++;
        assertEquals(x.get(i) / (1 - 0.5), y.get(i), 1e-6 * Math.abs(x.get(i)), who + " kept entry " + i);
      } else {
        assertTrue(y.get(i) == 0, who + " dropped entry " + i + " is " + y.get(i) + ", not 0");
      }
    }
    double frac = kept / (double) x.size();
    // 1200 Bernoulli(0.5) draws: the kept fraction has std 0.014, so [0.4, 0.6] is a 7-sigma band.
    assertTrue(frac > 0.4 && frac < 0.6, who + " kept fraction " + frac + " is not about one half");
  }

  // ---- running ------------------------------------------------------------------------------------------------

  /** One dynamic test per parity case. */
  @TestFactory
  Stream<DynamicTest> parity() {
    return cases().stream().map(c -> dynamicTest(c.name(), () -> run(c)));
  }

  private static void run(Case c) {
    try {
      runUnnamed(c);
    } catch (AssertionError | RuntimeException e) {
      // Surefire reports dynamic tests by index only, so name the case in the failure.
      throw new AssertionError("[" + c.name() + "] " + e.getMessage(), e);
    }
  }

  private static void runUnnamed(Case c) {
    Ctx ctx = c.build();
    Graph graph = ctx.g.build();
    OpDef target = op(c.onnxType());
    assertTrue(graph.nodes().stream().anyMatch(n -> n.op() == target),
        c.name() + ": the graph has no " + c.onnxType() + " node: " + graph.nodes());
    Map<String, Tensor> ref = Evaluator.run(graph, ctx.feeds);
    byte[] bytes = OnnxEmitter.emit(graph, EmitOptions.builder().opset(c.opset()).build()).toByteArray();
    OnnxChecker.check(bytes);
    Map<String, Tensor> got = OrtRunner.run(bytes, ctx.feeds);
    assertEquals(List.copyOf(graph.outputs().keySet()), List.copyOf(got.keySet()), c.name() + ": output names");
    for (Map.Entry<String, Value> e : graph.outputs().entrySet()) {
      String what = c.name() + ": output '" + e.getKey() + "'";
      Tensor g = got.get(e.getKey());
      Tensor r = ref.get(e.getKey());
      assertNotNull(r, what + " missing from the reference");
      assertEquals(e.getValue().dtype(), g.dtype(), what + " ONNX Runtime dtype");
      assertEquals(e.getValue().dtype(), r.dtype(), what + " reference dtype");
      checkStaticShape(e.getValue().shape(), g.shape(), what + " (ONNX Runtime)");
      checkStaticShape(e.getValue().shape(), r.shape(), what + " (reference)");
    }
    if (c.customCheck() != null) {
      c.customCheck().accept(ref, got);
      return;
    }
    for (String name : graph.outputs().keySet()) {
      String what = c.name() + ": output '" + name + "'";
      Tensor g = got.get(name);
      Tensor r = ref.get(name);
      if (r.dtype().isFloating()) {
        Tolerance.assertRelErr(g, r, REL_TOL, what);
      } else {
        Tolerance.assertExact(g, r, what);
      }
    }
  }

  /** Fixed dims of the declared shape, and dims of bound symbols only (batch, batch*4), must match the run time. */
  private static void checkStaticShape(Shape declared, long[] actual, String what) {
    assertEquals(declared.rank(), actual.length, what + ": rank of run-time shape " + Arrays.toString(actual)
        + " vs declared " + declared);
    for (int i = 0; i < actual.length; i++) {
      Dim d = declared.dim(i);
      Long expect = BIND.keySet().containsAll(d.symbols()) ? Long.valueOf(d.evaluate(BIND)) : null;
      if (expect != null) {
        assertEquals(expect.longValue(), actual[i], what + ": dim " + i + " of run-time shape "
            + Arrays.toString(actual) + " vs declared " + declared);
      }
    }
  }

  /**
   * Ops newer than the target opset are emitted as their formula: Gelu is a Gelu node only from opset 20 (Erf or
   * Tanh arithmetic before); training-mode BatchNormalization is always its formula (see the aliasing parity
   * case), inference-mode BatchNormalization stays one node; from opset 18 ReduceMean's axes are an input.
   */
  @Test
  void loweringFollowsTheTargetOpset() throws Exception {
    GraphBuilder g = new GraphBuilder("lower");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", 3, 4, 4));
    Value c = g.input("c", TensorType.of(DType.FLOAT32, 3));
    g.output("exact", Ops.gelu(x, false));
    g.output("tanh", Ops.gelu(x, true));
    g.output("bn_infer", Ops.batchNorm(x, c, c, c, c, 1e-5));
    List<Value> bn = Ops.batchNormTraining(x, c, c, c, c, 1e-5, 0.9);
    g.output("bn_train", bn.get(0));
    g.output("bn_mean", bn.get(1));
    g.output("bn_var", bn.get(2));
    g.output("mean", Ops.reduceMean(x, true, 1));
    Graph graph = g.build();
    Map<Integer, Map<String, Integer>> counts = new LinkedHashMap<>();
    for (int opset : new int[] {17, 18, 20}) {
      byte[] bytes = OnnxEmitter.emit(graph, EmitOptions.builder().opset(opset).build()).toByteArray();
      OnnxChecker.check(bytes);
      Map<String, Integer> n = new LinkedHashMap<>();
      for (var node : OnnxProtos.ModelProto.parseFrom(bytes).getGraph().getNodeList()) {
        n.merge(node.getOpType(), 1, Integer::sum);
        if (node.getOpType().equals("ReduceMean")) {
          // Opset 18 takes ReduceMean's axes as an input (also inside the lowered BatchNormalization).
          assertEquals(opset >= 18 ? 2 : 1, node.getInputCount(), "ReduceMean inputs at opset " + opset);
          assertEquals(opset >= 18, node.getAttributeList().stream().noneMatch(a -> a.getName().equals("axes")),
              "ReduceMean axes attribute at opset " + opset);
        }
      }
      counts.put(opset, n);
    }
    assertEquals(null, counts.get(17).get("Gelu"), "opset 17 has no Gelu: " + counts.get(17));
    assertEquals(null, counts.get(18).get("Gelu"), "opset 18 has no Gelu: " + counts.get(18));
    assertTrue(counts.get(17).getOrDefault("Erf", 0) >= 1 && counts.get(17).getOrDefault("Tanh", 0) >= 1,
        "opset 17 writes Gelu with Erf and Tanh: " + counts.get(17));
    assertEquals(2, counts.get(20).get("Gelu"), "opset 20 emits both Gelu nodes natively: " + counts.get(20));
    for (int opset : counts.keySet()) {
      assertEquals(1, counts.get(opset).get("BatchNormalization"), "only the inference-mode BatchNormalization "
          + "stays a node at opset " + opset + ": " + counts.get(opset));
    }
  }

  /**
   * Optional outputs nothing reads are not emitted: a MaxPool whose Indices are unused has one output (as TensorRT
   * and most consumers expect), one whose Indices are a graph output keeps both, and the result still runs.
   */
  @Test
  void unreadOptionalOutputsAreLeftOut() throws Exception {
    GraphBuilder g = new GraphBuilder("optional");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, 1, 2, 4, 4));
    Attributes win = Attributes.of(Ops.KERNEL_SHAPE, new long[] {2, 2}, Ops.STRIDES, new long[] {2, 2});
    g.output("y_only", Ops.maxPool(x, win).get(0));
    List<Value> both = Ops.maxPool(Ops.neg(x), win);
    g.output("y", both.get(0));
    g.output("indices", both.get(1));
    byte[] bytes = OnnxEmitter.emit(g.build(), EmitOptions.defaults()).toByteArray();
    OnnxChecker.check(bytes);
    List<Integer> pools = new ArrayList<>();
    for (var n : OnnxProtos.ModelProto.parseFrom(bytes).getGraph().getNodeList()) {
      if (n.getOpType().equals("MaxPool")) {
        pools.add(n.getOutputCount());
      }
    }
    assertEquals(List.of(1, 2), pools, "MaxPool outputs: Indices only where read");
    Random rng = new Random(3);
    Map<String, Tensor> feeds = Map.of("x", Tensor.randn(DType.FLOAT32, rng, 1, 1, 2, 4, 4));
    Map<String, Tensor> got = OrtRunner.run(bytes, feeds);
    Map<String, Tensor> ref = Evaluator.run(g.build(), feeds);
    for (String o : List.of("y_only", "y")) {
      Tolerance.assertRelErr(got.get(o), ref.get(o), REL_TOL, o);
    }
    Tolerance.assertExact(got.get("indices"), ref.get("indices"), "indices");
  }

  /** Every op in {@link Ops#registry()} has at least one parity case whose graph really contains it. */
  @Test
  void everyRegisteredOpHasAParityCase() {
    Set<String> covered = new TreeSet<>();
    for (Case c : cases()) {
      Graph graph = c.build().g.build();
      for (Node n : graph.nodes()) {
        if (n.op().onnxType().equals(c.onnxType())) {
          covered.add(c.onnxType());
        }
      }
    }
    Set<String> missing = new LinkedHashSet<>();
    for (OpDef op : Ops.registry()) {
      if (!covered.contains(op.onnxType())) {
        missing.add(op.onnxType());
      }
    }
    assertTrue(missing.isEmpty(), "ops in Ops.registry() without a parity case: " + missing);
  }
}
