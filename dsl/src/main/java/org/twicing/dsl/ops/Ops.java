package org.twicing.dsl.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.CoreOps;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.OpDef;
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
  public static final Attr<Tensor> VALUE = CoreOps.VALUE;
  /** The Constant op, whose output is its {@link #VALUE} attribute. */
  public static final OpDef CONSTANT = CoreOps.CONSTANT;
  /** The Identity op, used by the builder to name graph outputs. */
  public static final OpDef IDENTITY = CoreOps.IDENTITY;
  /** The Reshape op (for importers, which rebuild its shape operand when it is run-time arithmetic). */
  public static final OpDef RESHAPE = Views.RESHAPE;
  /** The Expand op (for importers, as {@link #RESHAPE}). */
  public static final OpDef EXPAND = Views.EXPAND;
  /** The ConstantOfShape op (for importers, as {@link #RESHAPE}). */
  public static final OpDef CONSTANT_OF_SHAPE = Constants.CONSTANT_OF_SHAPE;

  // ---- typed attribute keys of the registry's ops (for importers mapping ONNX nodes onto these ops) -----------

  /** Gelu's {@code approximate}: "none" (erf form, the default) or "tanh". */
  public static final Attr<String> APPROXIMATE = Elementwise.APPROXIMATE;
  /** Conv/ConvTranspose/MaxPool/AveragePool {@code kernel_shape} (required for pools; checked against W for Conv). */
  public static final Attr<long[]> KERNEL_SHAPE = Window.KERNEL_SHAPE;
  /** Window {@code strides}, one per spatial axis (default 1). */
  public static final Attr<long[]> STRIDES = Window.STRIDES;
  /** Window {@code pads}: all begins, then all ends (default 0). */
  public static final Attr<long[]> PADS = Window.PADS;
  /** Window {@code dilations}, one per spatial axis (default 1; AveragePool accepts only 1, as in opset 17). */
  public static final Attr<long[]> DILATIONS = Window.DILATIONS;
  /** Window {@code auto_pad}: NOTSET (default, explicit pads), VALID, SAME_UPPER or SAME_LOWER. */
  public static final Attr<String> AUTO_PAD = Window.AUTO_PAD;
  /** Pooling {@code ceil_mode}: 0 (floor, the default) or 1 (ceil, a last partial window counts). */
  public static final Attr<Long> CEIL_MODE = Window.CEIL_MODE;
  /** Conv/ConvTranspose {@code group} (default 1). */
  public static final Attr<Long> GROUP = Convolution.GROUP;
  /** ConvTranspose {@code output_padding}, one per spatial axis (default 0). */
  public static final Attr<long[]> OUTPUT_PADDING = Convolution.OUTPUT_PADDING;
  /** ConvTranspose {@code output_shape}: refused by the shape rule (importers should convert it to pads). */
  public static final Attr<long[]> OUTPUT_SHAPE = Convolution.OUTPUT_SHAPE;
  /** AveragePool {@code count_include_pad} (default 0: divide by the window's positions inside the input). */
  public static final Attr<Long> COUNT_INCLUDE_PAD = Pooling.COUNT_INCLUDE_PAD;
  /** MaxPool {@code storage_order}; only 0 (row-major Indices) is supported. */
  public static final Attr<Long> STORAGE_ORDER = Pooling.STORAGE_ORDER;
  /** BatchNormalization and LayerNormalization {@code epsilon} (default 1e-5). */
  public static final Attr<Double> EPSILON = Nn.EPSILON;
  /** BatchNormalization {@code momentum} (default 0.9). */
  public static final Attr<Double> MOMENTUM = Nn.MOMENTUM;
  /** BatchNormalization {@code training_mode}: 0 (one output) or 1 (Y, running_mean, running_var). */
  public static final Attr<Long> TRAINING_MODE = Nn.TRAINING_MODE;
  /** Einsum's {@code equation}. */
  public static final Attr<String> EQUATION = Einsum.EQUATION;
  /** ScatterElements and GatherElements {@code axis} (default 0). */
  public static final Attr<Long> SCATTER_AXIS = Scatter.AXIS;
  /** ScatterElements {@code reduction}: "none" (default) or "add". */
  public static final Attr<String> REDUCTION = Scatter.REDUCTION;

  /** Every op in the registry, in a stable order (for tests and documentation). */
  public static List<OpDef> registry() {
    return List.of(Elementwise.ADD, Elementwise.SUB, Elementwise.MUL, Elementwise.DIV, Elementwise.POW,
        Elementwise.NEG, Elementwise.SQRT, Elementwise.EXP, Elementwise.LOG, Elementwise.TANH, Elementwise.ERF,
        Elementwise.RELU, Elementwise.SIGMOID, Elementwise.IDENTITY, Elementwise.EQUAL, Elementwise.LESS,
        Elementwise.GREATER, Elementwise.WHERE, Linalg.MATMUL, Linalg.GEMM, Convolution.CONV, Views.TRANSPOSE,
        Views.RESHAPE, Views.FLATTEN, Slicing.CONCAT, Slicing.SPLIT, Slicing.SLICE, Slicing.GATHER,
        Views.UNSQUEEZE, Views.SQUEEZE, Views.EXPAND, Constants.CAST, Constants.SHAPE, Constants.RANGE,
        Constants.CONSTANT, Constants.CONSTANT_OF_SHAPE, Constants.TRILU, Constants.ONE_HOT, Padding.PAD,
        Reductions.REDUCE_SUM,
        Reductions.REDUCE_MEAN, Reductions.REDUCE_MAX, Reductions.SOFTMAX, Reductions.LOG_SOFTMAX,
        Nn.LAYER_NORM, Nn.DROPOUT, Elementwise.GELU, Elementwise.MIN, Elementwise.MAX, Elementwise.CLIP,
        Elementwise.ABS, Elementwise.NOT, Elementwise.AND, Elementwise.OR, Elementwise.FLOOR, Elementwise.CEIL,
        Elementwise.SIN, Elementwise.COS, Einsum.EINSUM, Convolution.CONV_TRANSPOSE, Nn.BATCH_NORM,
        Pooling.MAX_POOL, Pooling.AVERAGE_POOL, Pooling.GLOBAL_AVERAGE_POOL, Scatter.SCATTER_ELEMENTS,
        Scatter.GATHER_ELEMENTS);
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
    return !op.attributesAsInputs(18).isEmpty();
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
    return g.constant(value);
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
  /**
   * {@code y} itself, differentiated by {@code rule} instead of through the ops that computed it (like
   * {@code jax.custom_vjp}): {@code rule} maps the loss gradient dL/dy to the gradients of {@code wrt}, one each
   * (null where none flows), typically built from forward values it closes over. {@code what} names the rule in
   * errors. The marker node is removed by the graph passes after differentiation, so emitted graphs do not show it.
   */
  public static Value withGradient(String what, Value y, List<Value> wrt, Function<Value, List<Value>> rule) {
    List<Value> in = new ArrayList<>();
    in.add(y);
    in.addAll(wrt);
    return y.graph().apply(new CustomGradient(what, rule), in, Attributes.none()).get(0);
  }


  /** The exact Gelu x Phi(x) (approximate="none"), or its tanh approximation when {@code tanh}. */
  public static Value gelu(Value x, boolean tanh) {
    return op(Elementwise.GELU, tanh ? Attributes.of(APPROXIMATE, "tanh") : Attributes.none(), x);
  }

  /** Elementwise minimum of any number of operands (broadcasting). */
  public static Value min(Value... xs) {
    return op(Elementwise.MIN, Attributes.none(), xs);
  }

  /** Elementwise maximum of any number of operands (broadcasting). */
  public static Value max(Value... xs) {
    return op(Elementwise.MAX, Attributes.none(), xs);
  }

  /** Clamps to [lo, hi]; either bound (a rank-0 value) may be null for none. */
  public static Value clip(Value x, Value lo, Value hi) {
    if (hi == null) {
      return lo == null ? op(Elementwise.CLIP, Attributes.none(), x) : op(Elementwise.CLIP, Attributes.none(), x, lo);
    }
    return op(Elementwise.CLIP, Attributes.none(), x, lo, hi);
  }

  /** |x|. */
  public static Value abs(Value x) {
    return op(Elementwise.ABS, Attributes.none(), x);
  }

  /** Largest integer not above x. */
  public static Value floor(Value x) {
    return op(Elementwise.FLOOR, Attributes.none(), x);
  }

  /** Smallest integer not below x. */
  public static Value ceil(Value x) {
    return op(Elementwise.CEIL, Attributes.none(), x);
  }

  /** sin(x). */
  public static Value sin(Value x) {
    return op(Elementwise.SIN, Attributes.none(), x);
  }

  /** cos(x). */
  public static Value cos(Value x) {
    return op(Elementwise.COS, Attributes.none(), x);
  }

  /** Logical not of a bool tensor. */
  public static Value not(Value x) {
    return op(Elementwise.NOT, Attributes.none(), x);
  }

  /** Logical and of bool tensors (broadcasting). */
  public static Value and(Value a, Value b) {
    return op(Elementwise.AND, Attributes.none(), a, b);
  }

  /** Logical or of bool tensors (broadcasting). */
  public static Value or(Value a, Value b) {
    return op(Elementwise.OR, Attributes.none(), a, b);
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

  /** 2-D convolution, NCHW, with strides and pads [top, left, bottom, right] (bias may be null). */
  public static Value conv2d(Value x, Value w, Value bias, long[] strides, long[] pads) {
    Attributes at = Attributes.of(STRIDES, strides, PADS, pads)
        .with(KERNEL_SHAPE, new long[] {w.shape().dim(2).size(), w.shape().dim(3).size()});
    return bias == null ? op(Convolution.CONV, at, x, w) : op(Convolution.CONV, at, x, w, bias);
  }

  /**
   * Convolution over any number of spatial axes (N, C, spatial...) with explicit strides, pads (begins then ends),
   * dilations and groups; W is [M, C/group, k...]; bias may be null.
   */
  public static Value conv(Value x, Value w, Value bias, long[] strides, long[] pads, long[] dilations, long group) {
    Attributes at = Attributes.of(STRIDES, strides, PADS, pads).with(DILATIONS, dilations).with(GROUP, group);
    return bias == null ? op(Convolution.CONV, at, x, w) : op(Convolution.CONV, at, x, w, bias);
  }

  /** Convolution with window attributes given as a whole (auto_pad, kernel_shape, ...); bias may be null. */
  public static Value conv(Value x, Value w, Value bias, Attributes window) {
    return bias == null ? op(Convolution.CONV, window, x, w) : op(Convolution.CONV, window, x, w, bias);
  }

  /**
   * Transposed convolution (the adjoint of {@link #conv}): W is [C, M/group, k...]; output size per axis is
   * stride (in - 1) + output_padding + dilation (k - 1) + 1 - pad_begin - pad_end.
   */
  public static Value convTranspose(Value x, Value w, Value bias, long[] strides, long[] pads, long[] dilations,
      long[] outputPadding, long group) {
    Attributes at = Attributes.of(STRIDES, strides, PADS, pads).with(DILATIONS, dilations).with(GROUP, group)
        .with(OUTPUT_PADDING, outputPadding);
    return bias == null ? op(Convolution.CONV_TRANSPOSE, at, x, w) : op(Convolution.CONV_TRANSPOSE, at, x, w, bias);
  }

  /** Einsum over {@code equation} (explicit, implicit or with an ellipsis; no repeated label in one operand). */
  public static Value einsum(String equation, Value... operands) {
    return op(Einsum.EINSUM, Attributes.of(EQUATION, equation), operands);
  }

  // ---- shapes -----------------------------------------------------------------------------------------------

  /** Permutes axes. */
  public static Value transpose(Value x, int... perm) {
    return op(Views.TRANSPOSE, Attributes.of(Shaping.PERM, Arrays.stream(perm).asLongStream().toArray()), x);
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
    return op(Views.RESHAPE, Attributes.none(), x, ints(x, shape));
  }

  /** Reshape to a run-time shape. */
  public static Value reshape(Value x, Value shape) {
    return op(Views.RESHAPE, Attributes.none(), x, shape);
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
    return op(Views.FLATTEN, Attributes.of(Shaping.AXIS, axis), x);
  }

  /** Concatenation along {@code axis}. */
  public static Value concat(long axis, Value... parts) {
    return op(Slicing.CONCAT, Attributes.of(Shaping.AXIS, axis), parts);
  }

  /** Splits along {@code axis} into pieces of the given sizes. */
  public static List<Value> split(Value x, long axis, long... sizes) {
    return x.graph().apply(Slicing.SPLIT, List.of(x, ints(x, sizes)), Attributes.of(Shaping.AXIS, axis));
  }

  /** Slices with constant starts/ends/axes/steps. */
  public static Value slice(Value x, long[] starts, long[] ends, long[] axes, long[] steps) {
    return op(Slicing.SLICE, Attributes.none(), x, ints(x, starts), ints(x, ends), ints(x, axes), ints(x, steps));
  }

  /** Slices {@code [0, ends[i])} along {@code axes[i]}, where {@code ends} is a run-time rank-1 int64 value. */
  public static Value sliceTo(Value x, Value ends, long... axes) {
    return op(Slicing.SLICE, Attributes.none(), x, ints(x, new long[axes.length]), ends, ints(x, axes));
  }

  /** Zero-pads (negative pads crop) with pads [begin per axis..., end per axis...]. */
  public static Value pad(Value x, long... pads) {
    return op(Padding.PAD, Attributes.none(), x, ints(x, pads));
  }

  /** Gathers entries of {@code x} along {@code axis}. */
  public static Value gather(Value x, Value indices, long axis) {
    return op(Slicing.GATHER, Attributes.of(Shaping.AXIS, axis), x, indices);
  }

  /** Inserts size-1 axes. */
  public static Value unsqueeze(Value x, long... axes) {
    return op(Views.UNSQUEEZE, Attributes.none(), x, ints(x, axes));
  }

  /** Removes size-1 axes. */
  public static Value squeeze(Value x, long... axes) {
    return op(Views.SQUEEZE, Attributes.none(), x, ints(x, axes));
  }

  /** Broadcasts to a shape held by a rank-1 int64 value. */
  public static Value expand(Value x, Value shape) {
    return op(Views.EXPAND, Attributes.none(), x, shape);
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
    return op(Constants.CAST, Attributes.of(Shaping.TO, (long) to.onnxCode()), x);
  }

  /** The run-time shape of {@code x} (its dims are tracked symbolically). */
  public static Value shapeOf(Value x) {
    return op(Constants.SHAPE, Attributes.none(), x);
  }

  /** The run-time size of dimension {@code axis} of {@code x}, as a rank-1 int64 of length 1. */
  public static Value dimOf(Value x, int axis) {
    int a = axis < 0 ? axis + x.rank() : axis;
    return op(Constants.SHAPE, Attributes.of(Shaping.START, (long) a).with(Shaping.END, (long) a + 1), x);
  }

  /** [start, limit) in steps of delta (rank-0 operands). */
  public static Value range(Value start, Value limit, Value delta) {
    return op(Constants.RANGE, Attributes.none(), start, limit, delta);
  }

  /** A tensor of the run-time shape {@code shape} filled with the single value of {@code fill}. */
  public static Value constantOfShape(Value shape, Tensor fill) {
    return op(Constants.CONSTANT_OF_SHAPE, Attributes.of(VALUE, fill), shape);
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
    return k == null ? op(Constants.TRILU, at, x) : op(Constants.TRILU, at, x, k);
  }

  /**
   * dL/dx of a normalisation x̂ = (x − mean) · invStd over {@code axes}, given dL/dx̂: (dx̂ − mean(dx̂) − x̂ ·
   * mean(dx̂ · x̂)) · invStd. Shared by LayerNormalization's gradient rule and {@code LayerNorm.normalize}.
   */
  public static Value normalizedInputGradient(Value dxhat, Value xhat, Value invStd, long... axes) {
    Value m1 = reduceMean(dxhat, true, axes);
    Value m2 = reduceMean(mul(dxhat, xhat), true, axes);
    return mul(sub(sub(dxhat, m1), mul(xhat, m2)), invStd);
  }

  /** One-hot encoding along a new last axis, float32 0/1 values. */
  public static Value oneHot(Value indices, long depth) {
    Value d = constantLike(indices, Tensor.scalar(DType.INT64, depth));
    Value vals = constantLike(indices, Tensor.floats(new long[] {2}, 0f, 1f));
    return op(Constants.ONE_HOT, Attributes.of(Shaping.AXIS, -1L), indices, d, vals);
  }

  /** One-hot with explicit off/on values of a given float dtype (label smoothing). */
  public static Value oneHot(Value indices, long depth, Tensor offOn) {
    return oneHot(indices, depth, offOn, -1);
  }

  /** One-hot with explicit off/on values along a new axis {@code axis} of the output (negative: from the end). */
  public static Value oneHot(Value indices, long depth, Tensor offOn, long axis) {
    Value d = constantLike(indices, Tensor.scalar(DType.INT64, depth));
    return op(Constants.ONE_HOT, Attributes.of(Shaping.AXIS, axis), indices, d, constantLike(indices, offOn));
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

  /**
   * Max pooling; returns (Y, Indices) where Indices are flat positions in {@code x} of each maximum. Window
   * attributes: {@link #KERNEL_SHAPE} (required), {@link #STRIDES}, {@link #PADS}, {@link #DILATIONS},
   * {@link #AUTO_PAD}.
   */
  public static List<Value> maxPool(Value x, Attributes window) {
    return x.graph().apply(Pooling.MAX_POOL, List.of(x), window);
  }

  /** Max pooling with a kernel, strides and pads (begins then ends); returns Y only. */
  public static Value maxPool(Value x, long[] kernel, long[] strides, long[] pads) {
    return maxPool(x, Attributes.of(KERNEL_SHAPE, kernel, STRIDES, strides).with(PADS, pads)).get(0);
  }

  /** Average pooling; window attributes as for {@link #maxPool(Value, Attributes)} plus {@link #COUNT_INCLUDE_PAD}. */
  public static Value averagePool(Value x, Attributes window) {
    return op(Pooling.AVERAGE_POOL, window, x);
  }

  /** Average pooling with a kernel, strides, pads, and whether padding counts in the divisor. */
  public static Value averagePool(Value x, long[] kernel, long[] strides, long[] pads, boolean countIncludePad) {
    return averagePool(x, Attributes.of(KERNEL_SHAPE, kernel, STRIDES, strides).with(PADS, pads)
        .with(COUNT_INCLUDE_PAD, countIncludePad ? 1L : 0L));
  }

  /** The mean over all spatial axes of (N, C, spatial...), kept as size-1 axes. */
  public static Value globalAveragePool(Value x) {
    return op(Pooling.GLOBAL_AVERAGE_POOL, Attributes.none(), x);
  }

  /** Inference-mode batch normalisation with running statistics {@code mean} and {@code var}, all [C]. */
  public static Value batchNorm(Value x, Value scale, Value bias, Value mean, Value var, double epsilon) {
    return op(Nn.BATCH_NORM, Attributes.of(EPSILON, epsilon), x, scale, bias, mean, var);
  }

  /**
   * Training-mode batch normalisation: normalises with the batch statistics; returns (Y, running_mean,
   * running_var) with running = input * momentum + batch * (1 - momentum).
   */
  public static List<Value> batchNormTraining(Value x, Value scale, Value bias, Value mean, Value var,
      double epsilon, double momentum) {
    Attributes at = Attributes.of(EPSILON, epsilon, MOMENTUM, momentum).with(TRAINING_MODE, 1L);
    return x.graph().apply(Nn.BATCH_NORM, List.of(x, scale, bias, mean, var), at);
  }

  /** Writes {@code updates} into a copy of {@code data} at {@code indices} along {@code axis}; reduction none|add. */
  public static Value scatterElements(Value data, Value indices, Value updates, long axis, String reduction) {
    return op(Scatter.SCATTER_ELEMENTS, Attributes.of(SCATTER_AXIS, axis, REDUCTION, reduction), data, indices,
        updates);
  }

  /** Reads {@code data} at per-element {@code indices} along {@code axis} (the output has the indices' shape). */
  public static Value gatherElements(Value data, Value indices, long axis) {
    return op(Scatter.GATHER_ELEMENTS, Attributes.of(SCATTER_AXIS, axis), data, indices);
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
