package org.twicing.codegen.importer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.codegen.onnx.OnnxProtos.AttributeProto;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;

/**
 * How each ONNX op type becomes our op form. Our ops take the opset-17 form (ReduceSum, Squeeze, Unsqueeze and
 * Split with their axes or sizes as inputs; ReduceMean and ReduceMax with axes as an attribute); opsets 13 to 21
 * write some of these differently, and a few ops carry attributes or outputs we express otherwise. Ops without
 * an entry here are imported as they are: same inputs, same attributes. The table is small on purpose: most ops
 * need no normalisation at all.
 */
final class OpImports {
  private OpImports() { }

  /** Normalises one node into our ops; returns one value per ONNX output (null where not produced). */
  @FunctionalInterface
  interface Rule {
    List<Value> apply(NodeImport n, OpDef op);
  }

  private static final Attr<long[]> AXES = Attr.ints("axes");
  private static final Attr<Long> AXIS = Attr.integer("axis");
  private static final Attr<Long> KEEPDIMS = Attr.integer("keepdims");
  private static final Attr<long[]> PADS = Attr.ints("pads");

  private static final Rule GENERIC = (n, op) -> n.emit(op, n.inputs(), n.attributes());

  private static final Map<String, Rule> RULES = Map.ofEntries(
      Map.entry("Constant", OpImports::constant),
      Map.entry("ReduceSum", OpImports::reduce),
      Map.entry("ReduceMean", OpImports::reduce),
      Map.entry("ReduceMax", OpImports::reduce),
      Map.entry("ReduceMin", OpImports::reduce),
      Map.entry("ReduceProd", OpImports::reduce),
      Map.entry("ReduceL2", OpImports::reduce),
      Map.entry("ReduceSumSquare", OpImports::reduce),
      Map.entry("Squeeze", OpImports::squeeze),
      Map.entry("Unsqueeze", OpImports::unsqueeze),
      Map.entry("Split", OpImports::split),
      Map.entry("Pad", OpImports::pad),
      Map.entry("Dropout", OpImports::dropout),
      Map.entry("LayerNormalization", (n, op) -> {
        if (n.intAttr("stash_type", 1) != 1) {
          throw n.fail("stash_type %d is not supported (only 1, float32 statistics)", n.intAttr("stash_type", 1));
        }
        return n.emitFirst(op, n.inputs(), n.attributes("stash_type"));
      }),
      Map.entry("Cast", (n, op) -> n.emit(op, n.inputs(), n.attributes("saturate"))),
      Map.entry("Reshape", OpImports::reshape),
      Map.entry("Conv", OpImports::conv));

  /**
   * For each op type, the input positions that must be known when the graph is built (shapes, axes, sizes,
   * ratios) or that hold statistics rather than weights: initializers read there become constants, never
   * trainable parameters.
   */
  private static final Map<String, Set<Integer>> CONSTANT_INPUTS = Map.ofEntries(
      Map.entry("Reshape", Set.of(1)), Map.entry("Expand", Set.of(1)), Map.entry("Slice", Set.of(1, 2, 3, 4)),
      Map.entry("Pad", Set.of(1, 2, 3)), Map.entry("Squeeze", Set.of(1)), Map.entry("Unsqueeze", Set.of(1)),
      Map.entry("Split", Set.of(1)), Map.entry("Dropout", Set.of(1, 2)), Map.entry("Clip", Set.of(1, 2)),
      Map.entry("Range", Set.of(0, 1, 2)), Map.entry("ConstantOfShape", Set.of(0)),
      Map.entry("OneHot", Set.of(1, 2)), Map.entry("Trilu", Set.of(1)), Map.entry("Tile", Set.of(1)),
      Map.entry("Resize", Set.of(1, 2, 3)), Map.entry("TopK", Set.of(1)), Map.entry("CumSum", Set.of(1)),
      Map.entry("Reduce", Set.of(1)),
      // Running mean and variance are statistics, not parameters: gradient descent must not move them.
      Map.entry("BatchNormalization", Set.of(3, 4)));

  /** Whether ops of type {@code opType} (default domain) can be imported. */
  static boolean supports(String opType) {
    return Ops.byOnnxType(opType) != null;
  }

  /** Whether input {@code i} of an {@code opType} node must be a build-time constant. */
  static boolean constantInput(String opType, int i) {
    String key = opType.startsWith("Reduce") ? "Reduce" : opType;
    Set<Integer> s = CONSTANT_INPUTS.get(key);
    return s != null && s.contains(i);
  }

  /** Imports one node. */
  static List<Value> apply(NodeImport n) {
    OpDef op = Ops.byOnnxType(n.opType());
    return RULES.getOrDefault(n.opType(), GENERIC).apply(n, op);
  }

  // ---- rules -------------------------------------------------------------------------------------------------

  /** Constant: any of the value_* attribute forms becomes our Constant's tensor. */
  private static List<Value> constant(NodeImport n, OpDef op) {
    AttributeProto a = null;
    for (String k : List.of("value", "value_float", "value_floats", "value_int", "value_ints", "value_string",
        "value_strings", "sparse_value")) {
      if (n.has(k)) {
        a = n.find(k);
        break;
      }
    }
    if (a == null) {
      throw n.fail("has none of the value attributes (value, value_float, value_floats, value_int, value_ints)");
    }
    Tensor t = switch (a.getName()) {
      case "value" -> n.tensor(a);
      case "value_float" -> Tensor.scalar(DType.FLOAT32, a.getF());
      case "value_floats" -> new Tensor(DType.FLOAT32, new long[] {a.getFloatsCount()},
          a.getFloatsList().stream().mapToDouble(Float::doubleValue).toArray());
      case "value_int" -> Tensor.scalar(DType.INT64, a.getI());
      case "value_ints" -> Tensor.longs(a.getIntsList().stream().mapToLong(Long::longValue).toArray());
      default -> throw n.fail("attribute %s is not supported (no string or sparse tensors)", a.getName());
    };
    return n.emit(op, List.of(), Attributes.of(Ops.VALUE, t));
  }

  /**
   * Reductions: axes from an attribute (before opset 18, ReduceSum before 13) or a constant input, moved to
   * whichever form our op takes; {@code noop_with_empty_axes} with no axes is the identity.
   */
  private static List<Value> reduce(NodeImport n, OpDef op) {
    Value x = n.input(0);
    long[] axes = n.has("axes") ? n.intsAttr("axes") : n.input(1) == null ? null : n.constant(1).toLongs();
    boolean none = axes == null || axes.length == 0;
    if (none && n.intAttr("noop_with_empty_axes", 0) != 0) {
      return n.alias(x);
    }
    Attributes at = Attributes.of(KEEPDIMS, n.intAttr("keepdims", 1));
    if (Ops.hasAxesAttribute(op)) {
      return n.emit(op, List.of(x), none ? at : at.with(AXES, axes));
    }
    return n.emit(op, none ? List.of(x) : List.of(x, n.constant("axes", Tensor.longs(axes))), at);
  }

  private static long[] axesOf(NodeImport n) {
    return n.has("axes") ? n.intsAttr("axes") : n.input(1) == null ? null : n.constant(1).toLongs();
  }

  /** Squeeze: axes from the attribute or the input; none means every axis of static size 1. */
  private static List<Value> squeeze(NodeImport n, OpDef op) {
    Value x = n.input(0);
    long[] axes = axesOf(n);
    if (axes == null) {
      List<Long> ones = new ArrayList<>();
      for (int i = 0; i < x.rank(); i++) {
        Dim d = x.shape().dim(i);
        if (!d.isFixed()) {
          throw n.fail("has no axes and input '%s' has symbolic dim %s at axis %d: cannot tell whether it is 1",
              x.name(), d, i);
        }
        if (d.is(1)) {
          ones.add((long) i);
        }
      }
      axes = ones.stream().mapToLong(Long::longValue).toArray();
    }
    return n.emit(op, List.of(x, n.constant("axes", Tensor.longs(axes))), Attributes.none());
  }

  /** Unsqueeze: axes from the attribute or the input. */
  private static List<Value> unsqueeze(NodeImport n, OpDef op) {
    long[] axes = axesOf(n);
    if (axes == null) {
      throw n.fail("needs axes (an attribute or the second input)");
    }
    return n.emit(op, List.of(n.input(0), n.constant("axes", Tensor.longs(axes))), Attributes.none());
  }

  /**
   * Split: sizes from the {@code split} attribute or input, else {@code num_outputs} (opset 18) or the number of
   * outputs, in equal parts with a smaller last part, as ONNX defines.
   */
  private static List<Value> split(NodeImport n, OpDef op) {
    Value x = n.input(0);
    long axis = n.intAttr("axis", 0);
    long[] sizes = n.has("split") ? n.intsAttr("split") : n.input(1) == null ? null : n.constant(1).toLongs();
    if (sizes == null) {
      int parts = (int) n.intAttr("num_outputs", n.outputCount());
      int ax = (int) (axis < 0 ? axis + x.rank() : axis);
      Dim d = x.shape().dim(ax);
      if (!d.isFixed()) {
        throw n.fail("splits symbolic axis %d (%s) of '%s' into %d parts; sizes must be known", ax, d, x.name(),
            parts);
      }
      long chunk = (d.size() + parts - 1) / parts;
      sizes = new long[parts];
      for (int i = 0; i < parts; i++) {
        sizes[i] = Math.max(0, Math.min(chunk, d.size() - i * chunk));
      }
    }
    return n.emit(op, List.of(x, n.constant("split", Tensor.longs(sizes))), Attributes.of(AXIS, axis));
  }

  /** Pad: constant mode only; the opset-18 {@code axes} input is expanded to pads over every axis. */
  private static List<Value> pad(NodeImport n, OpDef op) {
    String mode = n.stringAttr("mode", "constant");
    if (!mode.equals("constant")) {
      throw n.fail("mode '%s' is not supported (only constant)", mode);
    }
    Value x = n.input(0);
    long[] pads = n.constant(1).toLongs();
    if (n.input(3) != null) {
      long[] axes = n.constant(3).toLongs();
      int r = x.rank();
      long[] full = new long[2 * r];
      for (int i = 0; i < axes.length; i++) {
        int a = (int) (axes[i] < 0 ? axes[i] + r : axes[i]);
        full[a] = pads[i];
        full[a + r] = pads[i + axes.length];
      }
      pads = full;
    }
    List<Value> in = new ArrayList<>(List.of(x, n.constant("pads", Tensor.longs(pads))));
    if (n.input(2) != null) {
      in.add(n.input(2));
    }
    return n.emit(op, in, Attributes.none());
  }

  /**
   * Dropout: with no training_mode (or a false one) it is the identity, as ONNX defines for inference; with a
   * constant true training_mode it stays our training-mode Dropout.
   */
  private static List<Value> dropout(NodeImport n, OpDef op) {
    Tensor training = n.input(2) == null ? null : n.constant(2);
    if (training == null || training.get(0) == 0) {
      return n.alias(n.input(0));
    }
    return n.emit(op, n.inputs(), n.attributes());
  }

  /** Reshape: {@code allowzero=1} is the same as ours unless the shape holds a 0. */
  private static List<Value> reshape(NodeImport n, OpDef op) {
    if (n.intAttr("allowzero", 0) != 0) {
      Value s = n.input(1);
      if (s.constant() == null || Arrays.stream(s.constant().toLongs()).anyMatch(v -> v == 0)) {
        throw n.fail("allowzero=1 with a shape that may hold 0 is not supported");
      }
    }
    return n.emit(op, n.inputs(), n.attributes("allowzero"));
  }

  /** Conv: {@code auto_pad} is turned into explicit pads (SAME_* needs static spatial sizes). */
  private static List<Value> conv(NodeImport n, OpDef op) {
    String autoPad = n.stringAttr("auto_pad", "NOTSET");
    Attributes at = n.attributes("auto_pad");
    if (autoPad.equals("NOTSET")) {
      return n.emit(op, n.inputs(), at);
    }
    Value x = n.input(0);
    Value w = n.input(1);
    int spatial = x.rank() - 2;
    long[] pads = new long[2 * spatial];
    if (!autoPad.equals("VALID")) {
      if (!autoPad.equals("SAME_UPPER") && !autoPad.equals("SAME_LOWER")) {
        throw n.fail("auto_pad '%s' is not an ONNX value", autoPad);
      }
      long[] strides = n.intsAttr("strides");
      long[] dil = n.intsAttr("dilations");
      long[] kernel = n.intsAttr("kernel_shape");
      for (int i = 0; i < spatial; i++) {
        Dim in = x.shape().dim(i + 2);
        Dim k = w.shape().dim(i + 2);
        if (!in.isFixed() || (kernel == null && !k.isFixed())) {
          throw n.fail("auto_pad %s needs static spatial sizes, input '%s' is %s", autoPad, x.name(), x.shape());
        }
        long s = strides == null ? 1 : strides[i];
        long d = dil == null ? 1 : dil[i];
        long ks = kernel == null ? k.size() : kernel[i];
        long out = (in.size() + s - 1) / s;
        long total = Math.max(0, (out - 1) * s + (ks - 1) * d + 1 - in.size());
        long small = total / 2;
        pads[i] = autoPad.equals("SAME_UPPER") ? small : total - small;
        pads[i + spatial] = total - pads[i];
      }
    }
    return n.emit(op, n.inputs(), at.with(PADS, pads));
  }
}
