package org.twicing.dsl.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;

/**
 * The typed op surface: one static method per op, taking and returning {@link Value}s of the graph under
 * construction. Each call is checked at once by the op's shape rule. Import statically:
 * {@code import static org.twicing.dsl.ops.Ops.*;}.
 */
public final class Ops {
  private Ops() { }

  /** The Constant op's {@code value} attribute. */
  public static final Attr<Tensor> VALUE = Shaping.VALUE;
  /** The Identity op, used by the builder to name graph outputs. */
  public static final OpDef IDENTITY = Elementwise.IDENTITY;

  /** Every op in the registry, in a stable order (for tests and documentation). */
  public static List<OpDef> registry() {
    return List.of(Elementwise.ADD, Elementwise.SUB, Elementwise.MUL, Elementwise.DIV, Elementwise.POW,
        Elementwise.NEG, Elementwise.SQRT, Elementwise.EXP, Elementwise.LOG, Elementwise.TANH, Elementwise.ERF,
        Elementwise.RELU, Elementwise.SIGMOID, Elementwise.IDENTITY, Elementwise.EQUAL, Elementwise.LESS,
        Elementwise.GREATER, Elementwise.WHERE, Linalg.MATMUL, Linalg.GEMM, Linalg.CONV, Shaping.TRANSPOSE,
        Shaping.RESHAPE, Shaping.FLATTEN, Shaping.CONCAT, Shaping.SPLIT, Shaping.SLICE, Shaping.GATHER,
        Shaping.UNSQUEEZE, Shaping.SQUEEZE, Shaping.EXPAND, Shaping.CAST, Shaping.SHAPE, Shaping.RANGE,
        Shaping.CONSTANT, Shaping.CONSTANT_OF_SHAPE, Shaping.TRILU, Shaping.ONE_HOT, Shaping.PAD, Reductions.REDUCE_SUM,
        Reductions.REDUCE_MEAN, Reductions.REDUCE_MAX, Reductions.SOFTMAX, Reductions.LOG_SOFTMAX,
        Nn.LAYER_NORM, Nn.DROPOUT);
  }

  /** The registered op lowered to ONNX type {@code onnxType}, or null. */
  public static OpDef byOnnxType(String onnxType) {
    for (OpDef op : registry()) {
      if (op.onnxType().equals(onnxType)) {
        return op;
      }
    }
    return null;
  }

  /** Whether {@code op} is a reduction whose axes are an attribute in opset 17 (ReduceMean, ReduceMax). */
  public static boolean hasAxesAttribute(OpDef op) {
    return op instanceof Reductions.Reduce r && !r.axesAsInput();
  }

  private static Value op(OpDef op, Attributes attrs, Value... in) {
    GraphBuilder g = null;
    for (Value v : in) {
      if (v != null) {
        g = v.graph();
        break;
      }
    }
    return g.apply(op, Arrays.asList(in), attrs).get(0);
  }

  // ---- constants --------------------------------------------------------------------------------------------

  /** A Constant node in graph {@code g}. */
  public static Value constant(GraphBuilder g, Tensor value) {
    return g.apply(Shaping.CONSTANT, List.of(), Attributes.of(VALUE, value)).get(0);
  }

  /** A constant in the same graph as {@code like}. */
  public static Value constantLike(Value like, Tensor value) {
    return constant(like.graph(), value);
  }

  /** A rank-0 constant with {@code like}'s dtype. */
  public static Value scalarLike(Value like, double value) {
    return constantLike(like, Tensor.scalar(like.dtype(), value));
  }

  /** A rank-1 int64 constant. */
  public static Value ints(Value like, long... values) {
    return constantLike(like, Tensor.longs(values));
  }

  // ---- elementwise ------------------------------------------------------------------------------------------

  /** a + b (broadcasting). */
  public static Value add(Value a, Value b) {
    return op(Elementwise.ADD, Attributes.none(), a, b);
  }

  /** a - b (broadcasting). */
  public static Value sub(Value a, Value b) {
    return op(Elementwise.SUB, Attributes.none(), a, b);
  }

  /** a * b (broadcasting). */
  public static Value mul(Value a, Value b) {
    return op(Elementwise.MUL, Attributes.none(), a, b);
  }

  /** a / b (broadcasting). */
  public static Value div(Value a, Value b) {
    return op(Elementwise.DIV, Attributes.none(), a, b);
  }

  /** a ^ b (broadcasting). */
  public static Value pow(Value a, Value b) {
    return op(Elementwise.POW, Attributes.none(), a, b);
  }

  /** -x. */
  public static Value neg(Value x) {
    return op(Elementwise.NEG, Attributes.none(), x);
  }

  /** sqrt(x). */
  public static Value sqrt(Value x) {
    return op(Elementwise.SQRT, Attributes.none(), x);
  }

  /** exp(x). */
  public static Value exp(Value x) {
    return op(Elementwise.EXP, Attributes.none(), x);
  }

  /** Natural log. */
  public static Value log(Value x) {
    return op(Elementwise.LOG, Attributes.none(), x);
  }

  /** tanh(x). */
  public static Value tanh(Value x) {
    return op(Elementwise.TANH, Attributes.none(), x);
  }

  /** The error function. */
  public static Value erf(Value x) {
    return op(Elementwise.ERF, Attributes.none(), x);
  }

  /** max(x, 0). */
  public static Value relu(Value x) {
    return op(Elementwise.RELU, Attributes.none(), x);
  }

  /** 1 / (1 + exp(-x)). */
  public static Value sigmoid(Value x) {
    return op(Elementwise.SIGMOID, Attributes.none(), x);
  }

  /** x, as a new named value. */
  public static Value identity(Value x) {
    return op(Elementwise.IDENTITY, Attributes.none(), x);
  }

  /** a == b (bool). */
  public static Value equal(Value a, Value b) {
    return op(Elementwise.EQUAL, Attributes.none(), a, b);
  }

  /** a &lt; b (bool). */
  public static Value less(Value a, Value b) {
    return op(Elementwise.LESS, Attributes.none(), a, b);
  }

  /** a &gt; b (bool). */
  public static Value greater(Value a, Value b) {
    return op(Elementwise.GREATER, Attributes.none(), a, b);
  }

  /** cond ? x : y (broadcasting). */
  public static Value where(Value cond, Value x, Value y) {
    return op(Elementwise.WHERE, Attributes.none(), cond, x, y);
  }

  // ---- contractions -----------------------------------------------------------------------------------------

  /** Numpy matrix product with batch broadcasting. */
  public static Value matmul(Value a, Value b) {
    return op(Linalg.MATMUL, Attributes.none(), a, b);
  }

  /** op(A) op(B) for rank-2 operands, with optional transposes. */
  public static Value gemm(Value a, Value b, boolean transA, boolean transB) {
    return op(Linalg.GEMM, Attributes.of(Linalg.TRANS_A, transA ? 1L : 0L, Linalg.TRANS_B, transB ? 1L : 0L), a, b);
  }

  /** alpha op(A) op(B) + beta C. */
  public static Value gemm(Value a, Value b, Value c, double alpha, double beta, boolean transA, boolean transB) {
    Attributes at = Attributes.of(Linalg.TRANS_A, transA ? 1L : 0L, Linalg.TRANS_B, transB ? 1L : 0L)
        .with(Linalg.ALPHA, alpha).with(Linalg.BETA, beta);
    return op(Linalg.GEMM, at, a, b, c);
  }

  /** 2-D convolution, NCHW, with strides and symmetric pads (bias may be null). */
  public static Value conv2d(Value x, Value w, Value bias, long[] strides, long[] pads) {
    Attributes at = Attributes.of(Linalg.STRIDES, strides, Linalg.PADS, pads)
        .with(Linalg.KERNEL_SHAPE, new long[] {w.shape().dim(2).size(), w.shape().dim(3).size()});
    return bias == null ? op(Linalg.CONV, at, x, w) : op(Linalg.CONV, at, x, w, bias);
  }

  // ---- shapes -----------------------------------------------------------------------------------------------

  /** Permutes axes. */
  public static Value transpose(Value x, int... perm) {
    return op(Shaping.TRANSPOSE, Attributes.of(Shaping.PERM, Arrays.stream(perm).asLongStream().toArray()), x);
  }

  /** Swaps the last two axes. */
  public static Value swapLast(Value x) {
    int r = x.rank();
    int[] perm = new int[r];
    for (int i = 0; i < r; i++) {
      perm[i] = i;
    }
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    return transpose(x, perm);
  }

  /** Reshape to constant sizes (0 copies the input dim, -1 is inferred). */
  public static Value reshape(Value x, long... shape) {
    return op(Shaping.RESHAPE, Attributes.none(), x, ints(x, shape));
  }

  /** Reshape to a run-time shape. */
  public static Value reshape(Value x, Value shape) {
    return op(Shaping.RESHAPE, Attributes.none(), x, shape);
  }

  /** Reshape {@code x} to the shape of {@code like} (constant when fixed, else through Shape). */
  public static Value reshapeLike(Value x, Value like) {
    if (x.shape().equals(like.shape())) {
      return x;
    }
    return like.shape().isFixed() ? reshape(x, like.shape().sizes()) : reshape(x, shapeOf(like));
  }

  /** Flattens to 2-D around {@code axis}. */
  public static Value flatten(Value x, long axis) {
    return op(Shaping.FLATTEN, Attributes.of(Shaping.AXIS, axis), x);
  }

  /** Concatenation along {@code axis}. */
  public static Value concat(long axis, Value... parts) {
    return op(Shaping.CONCAT, Attributes.of(Shaping.AXIS, axis), parts);
  }

  /** Splits along {@code axis} into pieces of the given sizes. */
  public static List<Value> split(Value x, long axis, long... sizes) {
    return x.graph().apply(Shaping.SPLIT, List.of(x, ints(x, sizes)), Attributes.of(Shaping.AXIS, axis));
  }

  /** Slices with constant starts/ends/axes/steps. */
  public static Value slice(Value x, long[] starts, long[] ends, long[] axes, long[] steps) {
    return op(Shaping.SLICE, Attributes.none(), x, ints(x, starts), ints(x, ends), ints(x, axes), ints(x, steps));
  }

  /** Slices {@code [0, ends[i])} along {@code axes[i]}, where {@code ends} is a run-time rank-1 int64 value. */
  public static Value sliceTo(Value x, Value ends, long... axes) {
    return op(Shaping.SLICE, Attributes.none(), x, ints(x, new long[axes.length]), ends, ints(x, axes));
  }

  /** Zero-pads (negative pads crop) with pads [begin per axis..., end per axis...]. */
  public static Value pad(Value x, long... pads) {
    return op(Shaping.PAD, Attributes.none(), x, ints(x, pads));
  }

  /** Gathers entries of {@code x} along {@code axis}. */
  public static Value gather(Value x, Value indices, long axis) {
    return op(Shaping.GATHER, Attributes.of(Shaping.AXIS, axis), x, indices);
  }

  /** Inserts size-1 axes. */
  public static Value unsqueeze(Value x, long... axes) {
    return op(Shaping.UNSQUEEZE, Attributes.none(), x, ints(x, axes));
  }

  /** Removes size-1 axes. */
  public static Value squeeze(Value x, long... axes) {
    return op(Shaping.SQUEEZE, Attributes.none(), x, ints(x, axes));
  }

  /** Broadcasts to a shape held by a rank-1 int64 value. */
  public static Value expand(Value x, Value shape) {
    return op(Shaping.EXPAND, Attributes.none(), x, shape);
  }

  /** Broadcasts {@code x} to the shape of {@code like}. */
  public static Value expandLike(Value x, Value like) {
    if (x.shape().equals(like.shape())) {
      return x;
    }
    return expand(x, like.shape().isFixed() ? ints(x, like.shape().sizes()) : shapeOf(like));
  }

  /** Converts the element type. */
  public static Value cast(Value x, DType to) {
    if (x.dtype() == to) {
      return x;
    }
    return op(Shaping.CAST, Attributes.of(Shaping.TO, (long) to.onnxCode()), x);
  }

  /** The run-time shape of {@code x} (its dims are tracked symbolically). */
  public static Value shapeOf(Value x) {
    return op(Shaping.SHAPE, Attributes.none(), x);
  }

  /** The run-time size of dimension {@code axis} of {@code x}, as a rank-1 int64 of length 1. */
  public static Value dimOf(Value x, int axis) {
    int a = axis < 0 ? axis + x.rank() : axis;
    return op(Shaping.SHAPE, Attributes.of(Shaping.START, (long) a).with(Shaping.END, (long) a + 1), x);
  }

  /** [start, limit) in steps of delta (rank-0 operands). */
  public static Value range(Value start, Value limit, Value delta) {
    return op(Shaping.RANGE, Attributes.none(), start, limit, delta);
  }

  /** A tensor of the run-time shape {@code shape} filled with the single value of {@code fill}. */
  public static Value constantOfShape(Value shape, Tensor fill) {
    return op(Shaping.CONSTANT_OF_SHAPE, Attributes.of(VALUE, fill), shape);
  }

  /** Zeros shaped and typed like {@code like}. */
  public static Value zerosLike(Value like) {
    if (like.shape().isFixed()) {
      return constantLike(like, Tensor.zeros(like.dtype(), like.shape().sizes()));
    }
    return constantOfShape(shapeOf(like), Tensor.zeros(like.dtype(), 1));
  }

  /** Keeps the upper (or lower) triangle of the last two axes, offset by {@code k} (may be null). */
  public static Value trilu(Value x, boolean upper, Value k) {
    Attributes at = Attributes.of(Shaping.UPPER, upper ? 1L : 0L);
    return k == null ? op(Shaping.TRILU, at, x) : op(Shaping.TRILU, at, x, k);
  }

  /** One-hot encoding along a new last axis, float32 0/1 values. */
  public static Value oneHot(Value indices, long depth) {
    Value d = constantLike(indices, Tensor.scalar(DType.INT64, depth));
    Value vals = constantLike(indices, Tensor.floats(new long[] {2}, 0f, 1f));
    return op(Shaping.ONE_HOT, Attributes.of(Shaping.AXIS, -1L), indices, d, vals);
  }

  /** One-hot with explicit off/on values of a given float dtype (label smoothing). */
  public static Value oneHot(Value indices, long depth, Tensor offOn) {
    Value d = constantLike(indices, Tensor.scalar(DType.INT64, depth));
    return op(Shaping.ONE_HOT, Attributes.of(Shaping.AXIS, -1L), indices, d, constantLike(indices, offOn));
  }

  // ---- reductions -------------------------------------------------------------------------------------------

  /** Sum over {@code axes} (all axes when none given). */
  public static Value reduceSum(Value x, boolean keepDims, long... axes) {
    Attributes at = Attributes.of(Reductions.KEEPDIMS, keepDims ? 1L : 0L);
    return axes.length == 0 ? op(Reductions.REDUCE_SUM, at, x) : op(Reductions.REDUCE_SUM, at, x, ints(x, axes));
  }

  /** Mean over {@code axes} (all axes when none given). */
  public static Value reduceMean(Value x, boolean keepDims, long... axes) {
    return op(Reductions.REDUCE_MEAN, reduceAttrs(keepDims, axes), x);
  }

  /** Max over {@code axes} (all axes when none given). */
  public static Value reduceMax(Value x, boolean keepDims, long... axes) {
    return op(Reductions.REDUCE_MAX, reduceAttrs(keepDims, axes), x);
  }

  private static Attributes reduceAttrs(boolean keepDims, long[] axes) {
    Attributes at = Attributes.of(Reductions.KEEPDIMS, keepDims ? 1L : 0L);
    return axes.length == 0 ? at : at.with(Reductions.AXES, axes);
  }

  /** Softmax along {@code axis}. */
  public static Value softmax(Value x, long axis) {
    return op(Reductions.SOFTMAX, Attributes.of(Reductions.AXIS, axis), x);
  }

  /** Log-softmax along {@code axis}. */
  public static Value logSoftmax(Value x, long axis) {
    return op(Reductions.LOG_SOFTMAX, Attributes.of(Reductions.AXIS, axis), x);
  }

  // ---- neural-network ops -----------------------------------------------------------------------------------

  /** Layer normalisation over the trailing axes from {@code axis}, with scale and optional bias. */
  public static Value layerNorm(Value x, Value scale, Value bias, long axis, double epsilon) {
    Attributes at = Attributes.of(Nn.AXIS, axis, Nn.EPSILON, epsilon);
    return bias == null ? op(Nn.LAYER_NORM, at, x, scale) : op(Nn.LAYER_NORM, at, x, scale, bias);
  }

  /** Training-mode dropout with drop probability {@code ratio}; returns (output, mask). */
  public static List<Value> dropout(Value x, double ratio, long seed) {
    Value r = constantLike(x, Tensor.scalar(x.dtype(), ratio));
    Value training = constantLike(x, Tensor.scalar(DType.BOOL, 1));
    return x.graph().apply(Nn.DROPOUT, List.of(x, r, training), Attributes.of(Nn.SEED, seed));
  }

  // ---- gradient helpers -------------------------------------------------------------------------------------

  /**
   * Sums a broadcast gradient back to the shape of {@code target}: over leading axes {@code target} lacks and
   * over axes where {@code target} has size 1.
   */
  public static Value sumToShape(Value grad, Value target) {
    Shape gs = grad.shape();
    Shape ts = target.shape();
    if (gs.equals(ts)) {
      return grad;
    }
    int lead = gs.rank() - ts.rank();
    List<Long> axes = new ArrayList<>();
    for (int i = 0; i < gs.rank(); i++) {
      if (i < lead) {
        axes.add((long) i);
      } else {
        Dim t = ts.dim(i - lead);
        Dim d = gs.dim(i);
        if (t.is(1) && !d.is(1)) {
          axes.add((long) i);
        }
      }
    }
    Value r = grad;
    if (!axes.isEmpty()) {
      r = reduceSum(grad, true, axes.stream().mapToLong(Long::longValue).toArray());
    }
    return reshapeLike(r, target);
  }
}
