package org.twicing.dsl.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.ShapeError;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * For every op's shape rule, at least one wrong call fails at once with an error that names the op, the operands
 * (value names and shapes) and the DSL call site (this file), so a user sees which line of their model is wrong.
 */
class ShapeRuleErrorTest {
  /** The caller's file every error must point at. */
  private static final String THIS_FILE = "ShapeRuleErrorTest.java";

  /** A wrong call: the op it targets, the call, and text the message must contain besides op and file name. */
  record Wrong(String onnxType, String variant, Consumer<GraphBuilder> call, List<String> fragments) {
    @Override
    public String toString() {
      return onnxType + " " + variant;
    }
  }

  private static Value in(GraphBuilder g, String name, DType t, Object... dims) {
    return g.input(name, TensorType.of(t, dims));
  }

  private static Value f32(GraphBuilder g, String name, Object... dims) {
    return in(g, name, DType.FLOAT32, dims);
  }

  private static Wrong wrong(String op, String variant, Consumer<GraphBuilder> call, String... fragments) {
    return new Wrong(op, variant, call, List.of(fragments));
  }

  /** Every wrong call, grouped by op. */
  static List<Wrong> cases() {
    List<Wrong> w = new ArrayList<>();
    List<String> binary = List.of("Add", "Sub", "Mul", "Div", "Pow");
    List<BiConsumer<Value, Value>> binaryFns = List.of(Ops::add, Ops::sub, Ops::mul, Ops::div, Ops::pow);
    for (int i = 0; i < binary.size(); i++) {
      BiConsumer<Value, Value> f = binaryFns.get(i);
      w.add(wrong(binary.get(i), "non-broadcastable [2, 3] and [4, 5]",
          g -> f.accept(f32(g, "lhs", 2, 3), f32(g, "rhs", 4, 5)), "'lhs'", "[2, 3]", "'rhs'", "[4, 5]", "broadcast"));
      w.add(wrong(binary.get(i), "mixed dtypes", g -> f.accept(f32(g, "lhs", 2), in(g, "rhs", DType.INT64, 2)),
          "'lhs'", "'rhs'", "float32", "int64"));
    }
    w.add(wrong("Add", "symbolic dims not known equal", g -> Ops.add(f32(g, "lhs", "batch", 3),
        f32(g, "rhs", "seq", 3)), "'lhs'", "[batch, 3]", "'rhs'", "[seq, 3]"));

    List<String> floatUnary = List.of("Sqrt", "Exp", "Log", "Tanh", "Erf", "Sigmoid");
    List<Consumer<Value>> floatFns = List.of(Ops::sqrt, Ops::exp, Ops::log, Ops::tanh, Ops::erf,
        Ops::sigmoid);
    for (int i = 0; i < floatUnary.size(); i++) {
      Consumer<Value> f = floatFns.get(i);
      w.add(wrong(floatUnary.get(i), "int64 operand", g -> f.accept(in(g, "ids", DType.INT64, 2, 3)), "'ids'",
          "[2, 3]", "int64", "floating-point"));
    }
    w.add(wrong("Neg", "bool operand", g -> Ops.neg(in(g, "flags", DType.BOOL, 2, 3)), "'flags'", "[2, 3]",
        "numeric"));
    w.add(wrong("Relu", "bool operand", g -> Ops.relu(in(g, "flags", DType.BOOL, 4, 1)), "'flags'", "[4, 1]"));
    w.add(wrong("Identity", "two operands", g -> g.apply(Elementwise.IDENTITY,
        List.of(f32(g, "first", 2, 3), f32(g, "second", 4)), Attributes.none()), "'first'", "[2, 3]", "'second'",
        "[4]", "expects 1 input"));

    List<String> cmp = List.of("Equal", "Less", "Greater");
    List<BiConsumer<Value, Value>> cmpFns = List.of(Ops::equal, Ops::less, Ops::greater);
    for (int i = 0; i < cmp.size(); i++) {
      BiConsumer<Value, Value> f = cmpFns.get(i);
      w.add(wrong(cmp.get(i), "non-broadcastable", g -> f.accept(f32(g, "lhs", 2, 3), f32(g, "rhs", 2, 4)),
          "'lhs'", "[2, 3]", "'rhs'", "[2, 4]"));
      w.add(wrong(cmp.get(i), "mixed dtypes", g -> f.accept(f32(g, "lhs", 3), in(g, "rhs", DType.INT64, 3)),
          "'lhs'", "'rhs'", "float32", "int64"));
    }
    w.add(wrong("Where", "float condition", g -> Ops.where(f32(g, "cond", 2, 3), f32(g, "yes", 2, 3),
        f32(g, "no", 2, 3)), "'cond'", "'yes'", "'no'", "[2, 3]", "bool"));
    w.add(wrong("Where", "branches do not broadcast", g -> Ops.where(in(g, "cond", DType.BOOL, 2, 3),
        f32(g, "yes", 2, 3), f32(g, "no", 5)), "'cond'", "'yes'", "'no'", "[5]"));

    w.add(wrong("MatMul", "[2, 3] x [4, 5]", g -> Ops.matmul(f32(g, "a", 2, 3), f32(g, "b", 4, 5)), "'a'", "[2, 3]",
        "'b'", "[4, 5]", "inner dimensions"));
    w.add(wrong("MatMul", "batch dims clash", g -> Ops.matmul(f32(g, "a", 2, 3, 4), f32(g, "b", 5, 4, 6)),
        "'a'", "[2, 3, 4]", "'b'", "[5, 4, 6]"));
    w.add(wrong("MatMul", "scalar operand", g -> Ops.matmul(f32(g, "a"), f32(g, "b", 4, 5)), "'a'", "[]", "'b'",
        "[4, 5]"));
    w.add(wrong("Gemm", "inner dims differ", g -> Ops.gemm(f32(g, "a", 2, 3), f32(g, "b", 4, 5), false, false),
        "'a'", "[2, 3]", "'b'", "[4, 5]"));
    w.add(wrong("Gemm", "transB makes it wrong", g -> Ops.gemm(f32(g, "a", 2, 3), f32(g, "b", 3, 5), false, true),
        "'a'", "[2, 3]", "'b'", "[3, 5]", "transB=1"));
    w.add(wrong("Gemm", "rank-3 operand", g -> Ops.gemm(f32(g, "a", 2, 2, 3), f32(g, "b", 3, 5), false, false),
        "'a'", "[2, 2, 3]", "rank 2"));
    w.add(wrong("Gemm", "C does not broadcast", g -> Ops.gemm(f32(g, "a", 2, 3), f32(g, "b", 3, 5),
        f32(g, "c", 4), 1, 1, false, false), "'c'", "[4]", "'a'", "[2, 3]", "'b'", "[3, 5]"));
    w.add(wrong("Conv", "channel mismatch", g -> Ops.conv2d(f32(g, "image", 1, 3, 8, 8),
        f32(g, "kernel", 4, 2, 3, 3), null, new long[] {1, 1}, new long[] {0, 0, 0, 0}), "'image'",
        "[1, 3, 8, 8]", "'kernel'", "[4, 2, 3, 3]", "channels"));
    w.add(wrong("Conv", "kernel larger than the image", g -> Ops.conv2d(f32(g, "image", 1, 3, 2, 2),
        f32(g, "kernel", 4, 3, 3, 3), null, new long[] {1, 1}, new long[] {0, 0, 0, 0}), "'image'",
        "[1, 3, 2, 2]", "'kernel'", "[4, 3, 3, 3]"));

    w.add(wrong("Transpose", "perm too short", g -> Ops.transpose(f32(g, "x", 2, 3, 4), 1, 0), "'x'", "[2, 3, 4]",
        "perm"));
    w.add(wrong("Transpose", "perm repeats", g -> Ops.transpose(f32(g, "x", 2, 3), 0, 0), "'x'", "[2, 3]",
        "permutation"));
    w.add(wrong("Reshape", "element count differs", g -> Ops.reshape(f32(g, "x", 2, 3), 4, 2), "'x'", "[2, 3]",
        "[4, 2]"));
    w.add(wrong("Reshape", "two -1", g -> Ops.reshape(f32(g, "x", 2, 3), -1, -1), "'x'", "[2, 3]", "-1"));
    w.add(wrong("Flatten", "axis out of range", g -> Ops.flatten(f32(g, "x", 2, 3), 5), "'x'", "[2, 3]", "axis 5"));
    w.add(wrong("Concat", "dims differ off the axis", g -> Ops.concat(0, f32(g, "top", 2, 3), f32(g, "bottom", 4, 5)),
        "'top'", "[2, 3]", "'bottom'", "[4, 5]"));
    w.add(wrong("Concat", "ranks differ", g -> Ops.concat(1, f32(g, "left", 2, 3), f32(g, "right", 2, 3, 1)),
        "'left'", "'right'", "[2, 3, 1]", "rank"));
    w.add(wrong("Split", "sizes do not add up", g -> Ops.split(f32(g, "x", 2, 6), 1, 2, 3), "'x'", "[2, 6]",
        "add up to 5"));
    w.add(wrong("Slice", "step 0", g -> Ops.slice(f32(g, "x", 4, 5), new long[] {0}, new long[] {2},
        new long[] {1}, new long[] {0}), "'x'", "[4, 5]", "step 0"));
    w.add(wrong("Slice", "axis out of range", g -> Ops.slice(f32(g, "x", 4, 5), new long[] {0}, new long[] {2},
        new long[] {2}, new long[] {1}), "'x'", "[4, 5]", "axes entry 2"));
    w.add(wrong("Gather", "float indices", g -> Ops.gather(f32(g, "table", 10, 4), f32(g, "where", 3), 0),
        "'table'", "[10, 4]", "'where'", "[3]", "int64"));
    w.add(wrong("Gather", "axis out of range", g -> Ops.gather(f32(g, "table", 10, 4),
        in(g, "ids", DType.INT64, 3), 2), "'table'", "[10, 4]", "'ids'", "axis 2"));
    w.add(wrong("Unsqueeze", "repeated axes", g -> Ops.unsqueeze(f32(g, "x", 2, 3), 1, 1), "'x'", "[2, 3]",
        "repeat"));
    w.add(wrong("Unsqueeze", "axis out of range", g -> Ops.unsqueeze(f32(g, "x", 2, 3), 4), "'x'", "[2, 3]",
        "axes entry 4"));
    w.add(wrong("Squeeze", "axis of size 3", g -> Ops.squeeze(f32(g, "x", 2, 3, 1), 1), "'x'", "[2, 3, 1]",
        "size 3"));
    w.add(wrong("Expand", "target does not broadcast", g -> {
      Value x = f32(g, "x", 3);
      Ops.expand(x, Ops.ints(x, 2, 4));
    }, "'x'", "[3]", "[2]"));
    w.add(wrong("Expand", "float target", g -> Ops.expand(f32(g, "x", 3), f32(g, "target", 2)), "'x'", "'target'",
        "int64"));
    w.add(wrong("Cast", "no 'to' attribute", g -> g.apply(Constants.CAST, List.of(f32(g, "x", 2, 3)),
        Attributes.none()), "'x'", "[2, 3]", "'to'"));
    w.add(wrong("Cast", "unknown 'to' code", g -> g.apply(Constants.CAST, List.of(f32(g, "x", 2, 3)),
        Attributes.of(Shaping.TO, 999L)), "'x'", "[2, 3]", "999"));
    w.add(wrong("Shape", "two operands", g -> g.apply(Constants.SHAPE, List.of(f32(g, "x", 2, 3), f32(g, "y", 4)),
        Attributes.none()), "'x'", "[2, 3]", "'y'", "[4]", "expects 1 input"));
    w.add(wrong("Range", "rank-1 start", g -> Ops.range(in(g, "start", DType.INT64, 1), in(g, "limit", DType.INT64),
        in(g, "delta", DType.INT64)), "'start'", "[1]", "rank 0"));
    w.add(wrong("Range", "mixed dtypes", g -> Ops.range(in(g, "start", DType.INT64), f32(g, "limit"),
        in(g, "delta", DType.INT64)), "'start'", "'limit'", "float32", "int64"));
    w.add(wrong("Constant", "no value attribute", g -> g.apply(Constants.CONSTANT, List.of(), Attributes.none()),
        "'value'"));
    w.add(wrong("ConstantOfShape", "float shape", g -> Ops.constantOfShape(f32(g, "dims", 2),
        Tensor.full(DType.FLOAT32, 1, 1)), "'dims'", "[2]", "int64"));
    w.add(wrong("ConstantOfShape", "shape unknown at build time", g -> Ops.constantOfShape(
        in(g, "dims", DType.INT64, 2), Tensor.full(DType.FLOAT32, 1, 1)), "'dims'", "[2]", "known"));
    w.add(wrong("Pad", "pads of the wrong length", g -> Ops.pad(f32(g, "x", 2, 3), 1, 1), "'x'", "[2, 3]",
        "2 x rank = 4"));
    w.add(wrong("Pad", "padding a symbolic axis", g -> Ops.pad(f32(g, "x", "batch", 3), 1, 0, 0, 0), "'x'",
        "[batch, 3]", "symbolic axis 0"));
    w.add(wrong("Trilu", "rank-1 input", g -> Ops.trilu(f32(g, "x", 5), true, null), "'x'", "[5]", "rank >= 2"));
    w.add(wrong("Trilu", "rank-1 k", g -> Ops.trilu(f32(g, "x", 5, 5), true, in(g, "k", DType.INT64, 1)), "'x'",
        "[5, 5]", "'k'", "[1]"));
    w.add(wrong("OneHot", "float indices", g -> Ops.oneHot(f32(g, "labels", 4), 10), "'labels'", "[4]", "int64"));

    List<String> reduce = List.of("ReduceSum", "ReduceMean", "ReduceMax");
    for (String r : reduce) {
      w.add(wrong(r, "axis out of range", g -> {
        Value x = f32(g, "x", 2, 3);
        switch (r) {
          case "ReduceSum" -> Ops.reduceSum(x, true, 2);
          case "ReduceMean" -> Ops.reduceMean(x, true, 2);
          default -> Ops.reduceMax(x, true, -3);
        }
      }, "'x'", "[2, 3]", "out of range"));
      w.add(wrong(r, "bool input", g -> {
        Value x = in(g, "mask", DType.BOOL, 2, 3);
        switch (r) {
          case "ReduceSum" -> Ops.reduceSum(x, true, 1);
          case "ReduceMean" -> Ops.reduceMean(x, true, 1);
          default -> Ops.reduceMax(x, true, 1);
        }
      }, "'mask'", "[2, 3]", "bool"));
    }
    w.add(wrong("Softmax", "axis out of range", g -> Ops.softmax(f32(g, "logits", 2, 3), 2), "'logits'", "[2, 3]",
        "axis 2"));
    w.add(wrong("Softmax", "int64 input", g -> Ops.softmax(in(g, "logits", DType.INT64, 2, 3), -1), "'logits'",
        "int64"));
    w.add(wrong("LogSoftmax", "axis out of range", g -> Ops.logSoftmax(f32(g, "logits", 2, 3), -3), "'logits'",
        "[2, 3]", "axis -3"));
    w.add(wrong("LayerNormalization", "scale shape differs", g -> Ops.layerNorm(f32(g, "x", 2, 5, 8),
        f32(g, "gamma", 5), null, -1, 1e-5), "'x'", "[2, 5, 8]", "'gamma'", "[5]", "[8]"));
    w.add(wrong("LayerNormalization", "bias shape differs", g -> Ops.layerNorm(f32(g, "x", 2, 5, 8),
        f32(g, "gamma", 5, 8), f32(g, "beta", 8), 1, 1e-5), "'beta'", "[8]", "[5, 8]"));
    w.add(wrong("LayerNormalization", "axis out of range", g -> Ops.layerNorm(f32(g, "x", 2, 8),
        f32(g, "gamma", 8), null, 2, 1e-5), "'x'", "[2, 8]", "axis 2"));
    w.add(wrong("Dropout", "int64 input", g -> Ops.dropout(in(g, "ids", DType.INT64, 2, 3), 0.1, 0), "'ids'",
        "[2, 3]", "floating-point"));
    w.add(wrong("Dropout", "rank-1 ratio", g -> {
      Value x = f32(g, "x", 2, 3);
      g.apply(Nn.DROPOUT, List.of(x, f32(g, "ratio", 1)), Attributes.none());
    }, "'x'", "'ratio'", "[1]", "rank 0"));
    widenedOpCases(w);
    return w;
  }

  private static final long[] S1 = {1, 1};
  private static final long[] P0 = {0, 0, 0, 0};

  /** Wrong calls of the ops added for imported models. */
  private static void widenedOpCases(List<Wrong> w) {
    w.add(wrong("Gelu", "int64 operand", g -> Ops.gelu(in(g, "ids", DType.INT64, 2, 3), false), "'ids'", "[2, 3]",
        "floating-point"));
    w.add(wrong("Gelu", "unknown approximation", g -> g.apply(Elementwise.GELU, List.of(f32(g, "x", 2)),
        Attributes.of(Ops.APPROXIMATE, "sigmoid")), "'x'", "[2]", "sigmoid", "tanh"));
    w.add(wrong("Min", "non-broadcastable", g -> Ops.min(f32(g, "lhs", 2, 3), f32(g, "rhs", 4)), "'lhs'", "[2, 3]",
        "'rhs'", "[4]", "broadcast"));
    w.add(wrong("Max", "mixed dtypes among three", g -> Ops.max(f32(g, "a", 2), f32(g, "b", 2),
        in(g, "c", DType.INT64, 2)), "'a'", "'c'", "int64"));
    w.add(wrong("Clip", "rank-1 bound", g -> Ops.clip(f32(g, "x", 2, 3), f32(g, "lo", 1), null), "'x'", "'lo'",
        "[1]", "rank-0"));
    w.add(wrong("Abs", "bool operand", g -> Ops.abs(in(g, "flags", DType.BOOL, 3)), "'flags'", "[3]", "numeric"));
    w.add(wrong("Floor", "int64 operand", g -> Ops.floor(in(g, "ids", DType.INT64, 3)), "'ids'", "floating-point"));
    w.add(wrong("Ceil", "int64 operand", g -> Ops.ceil(in(g, "ids", DType.INT64, 3)), "'ids'", "floating-point"));
    w.add(wrong("Sin", "int64 operand", g -> Ops.sin(in(g, "ids", DType.INT64, 3)), "'ids'", "floating-point"));
    w.add(wrong("Cos", "int64 operand", g -> Ops.cos(in(g, "ids", DType.INT64, 3)), "'ids'", "floating-point"));
    w.add(wrong("Not", "float operand", g -> Ops.not(f32(g, "x", 2, 2)), "'x'", "[2, 2]", "bool"));
    w.add(wrong("And", "float operand", g -> Ops.and(in(g, "p", DType.BOOL, 2), f32(g, "q", 2)), "'p'", "'q'",
        "float32", "bool"));
    w.add(wrong("Or", "non-broadcastable", g -> Ops.or(in(g, "p", DType.BOOL, 2, 3), in(g, "q", DType.BOOL, 4)),
        "'p'", "[2, 3]", "'q'", "[4]"));

    w.add(wrong("Einsum", "contracted sizes differ", g -> Ops.einsum("bij,bjk->bik", f32(g, "a", 2, 3, 4),
        f32(g, "b", 2, 5, 6)), "'a'", "[2, 3, 4]", "'b'", "[2, 5, 6]", "'j'"));
    w.add(wrong("Einsum", "term rank differs from the operand", g -> Ops.einsum("ij,jk->ik", f32(g, "a", 2, 3, 4),
        f32(g, "b", 4, 5)), "'a'", "[2, 3, 4]", "rank 3"));
    w.add(wrong("Einsum", "ellipsis of unequal ranks", g -> Ops.einsum("...ij,...jk->...ik", f32(g, "a", 2, 3, 4),
        f32(g, "b", 4, 5)), "'a'", "'b'", "ellipsis", "same number"));
    w.add(wrong("Einsum", "diagonal is an unsupported form", g -> Ops.einsum("ii->i", f32(g, "a", 3, 3)), "'a'",
        "[3, 3]", "diagonals are not supported"));
    w.add(wrong("Einsum", "output label from nowhere", g -> Ops.einsum("ij->iz", f32(g, "a", 3, 3)), "'a'",
        "'z'", "appears in no operand"));

    w.add(wrong("Conv", "groups do not divide the channels", g -> Ops.conv(f32(g, "image", 1, 3, 8, 8),
        f32(g, "kernel", 4, 1, 3, 3), null, S1, P0, S1, 2), "'image'", "[1, 3, 8, 8]", "'kernel'", "group=2"));
    w.add(wrong("Conv", "1-D input with a 2-D kernel", g -> Ops.conv(f32(g, "seq", 1, 3, 8),
        f32(g, "kernel", 4, 3, 3, 3), null, new long[] {1}, new long[] {0, 0}, new long[] {1}, 1), "'seq'",
        "[1, 3, 8]", "'kernel'", "[4, 3, 3, 3]", "rank"));
    w.add(wrong("Conv", "pads of the wrong length", g -> Ops.conv(f32(g, "image", 1, 3, 8, 8),
        f32(g, "kernel", 4, 3, 3, 3), null, S1, new long[] {1, 1}, S1, 1), "'image'", "'kernel'", "pads [1, 1]"));
    w.add(wrong("ConvTranspose", "channel mismatch", g -> Ops.convTranspose(f32(g, "x", 1, 3, 4, 4),
        f32(g, "kernel", 2, 4, 3, 3), null, S1, P0, S1, new long[] {0, 0}, 1), "'x'", "[1, 3, 4, 4]", "'kernel'",
        "[2, 4, 3, 3]", "channels"));
    w.add(wrong("ConvTranspose", "output_padding not below the stride", g -> Ops.convTranspose(
        f32(g, "x", 1, 2, 4, 4), f32(g, "kernel", 2, 4, 3, 3), null, new long[] {2, 2}, P0, S1,
        new long[] {2, 0}, 1), "'x'", "'kernel'", "output_padding [2, 0]"));

    w.add(wrong("BatchNormalization", "scale of the wrong length", g -> Ops.batchNorm(f32(g, "x", 2, 3, 4, 4),
        f32(g, "gamma", 4), f32(g, "beta", 3), f32(g, "mu", 3), f32(g, "sigma2", 3), 1e-5), "'x'", "[2, 3, 4, 4]",
        "'gamma'", "[4]", "[3]"));
    w.add(wrong("BatchNormalization", "rank-1 X", g -> Ops.batchNorm(f32(g, "x", 3), f32(g, "gamma", 3),
        f32(g, "beta", 3), f32(g, "mu", 3), f32(g, "sigma2", 3), 1e-5), "'x'", "[3]", "rank >= 2"));

    w.add(wrong("MaxPool", "kernel larger than the padded input", g -> Ops.maxPool(f32(g, "x", 1, 2, 3, 3),
        new long[] {5, 5}, S1, P0), "'x'", "[1, 2, 3, 3]", "no output"));
    w.add(wrong("MaxPool", "ceil_mode 2", g -> Ops.maxPool(f32(g, "x", 1, 2, 6, 6), Attributes.of(Ops.KERNEL_SHAPE,
        new long[] {2, 2}, Ops.CEIL_MODE, 2L)), "'x'", "ceil_mode must be 0 or 1"));
    w.add(wrong("AveragePool", "ceil-mode window starting in the end padding", g -> Ops.averagePool(
        f32(g, "x", 1, 2, 6, 7), Attributes.of(Ops.KERNEL_SHAPE, new long[] {2, 2}, Ops.STRIDES, new long[] {2, 2})
            .with(Ops.PADS, new long[] {0, 1, 0, 1}).with(Ops.CEIL_MODE, 1L)), "'x'", "[1, 2, 6, 7]", "end padding"));
    w.add(wrong("AveragePool", "kernel_shape missing", g -> Ops.averagePool(f32(g, "x", 1, 2, 6, 6),
        Attributes.none()), "'x'", "[1, 2, 6, 6]", "kernel_shape"));
    w.add(wrong("AveragePool", "dilations (opset 19)", g -> Ops.averagePool(f32(g, "x", 1, 2, 6, 6),
        Attributes.of(Ops.KERNEL_SHAPE, new long[] {2, 2}, Ops.DILATIONS, new long[] {2, 2})), "'x'", "dilations"));
    w.add(wrong("GlobalAveragePool", "rank-2 input", g -> Ops.globalAveragePool(f32(g, "x", 2, 3)), "'x'",
        "[2, 3]", "rank >= 3"));
    w.add(wrong("ScatterElements", "indices and updates differ", g -> Ops.scatterElements(f32(g, "data", 6),
        in(g, "idx", DType.INT64, 3), f32(g, "upd", 4), 0, "add"), "'data'", "'idx'", "'upd'", "[3]", "[4]"));
    w.add(wrong("GatherElements", "rank differs", g -> Ops.gatherElements(f32(g, "data", 3, 4),
        in(g, "idx", DType.INT64, 3), 1), "'data'", "[3, 4]", "'idx'", "[3]", "rank"));
    w.add(wrong("GatherElements", "float indices", g -> Ops.gatherElements(f32(g, "data", 3, 4),
        f32(g, "idx", 3, 4), 1), "'data'", "'idx'", "float32", "int64"));
  }

  /** One test per wrong call: it throws at once, naming op, operands, their shapes and this file. */
  @TestFactory
  Stream<DynamicTest> wrongCallsFailWithPointedMessages() {
    return cases().stream().map(c -> dynamicTest(c.toString(), () -> {
      GraphBuilder g = new GraphBuilder("wrong");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.call().accept(g),
          c + ": the wrong call was accepted");
      String msg = String.valueOf(e.getMessage());
      List<String> want = new ArrayList<>(c.fragments());
      want.add(0, c.onnxType());
      want.add(THIS_FILE);
      for (String f : want) {
        assertTrue(msg.contains(f), "[" + c + "] message lacks \"" + f + "\": " + msg);
      }
    }));
  }

  /** The MatMul example of the spec, spelled out: op, both value names, both shapes, this file. */
  @Test
  void matMulMessageNamesEverything() {
    GraphBuilder g = new GraphBuilder("mm");
    Value a = f32(g, "activations", 2, 3);
    Value b = f32(g, "weights", 4, 5);
    var e = assertThrows(ShapeError.class, () -> Ops.matmul(a, b));
    for (String f : List.of("MatMul", "activations", "weights", "[2, 3]", "[4, 5]", THIS_FILE)) {
      assertTrue(e.getMessage().contains(f), "message lacks \"" + f + "\": " + e.getMessage());
    }
  }

  /** Every op in the registry has at least one wrong-call case. */
  @Test
  void everyShapeRuleHasAWrongCall() {
    Set<String> covered = new LinkedHashSet<>();
    cases().forEach(c -> covered.add(c.onnxType()));
    List<String> missing = Ops.registry().stream().map(OpDef::onnxType).filter(t -> !covered.contains(t)).toList();
    assertTrue(missing.isEmpty(), "ops without a wrong-call case: " + missing);
    List<String> unknown = covered.stream().filter(t -> Ops.byOnnxType(t) == null).toList();
    assertTrue(unknown.isEmpty(), "cases name ops not in the registry: " + unknown);
  }
}
