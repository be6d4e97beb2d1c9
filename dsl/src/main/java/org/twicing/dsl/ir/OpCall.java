package org.twicing.dsl.ir;

import java.security.CodeSource;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.TensorType;

/** The operands and attributes of one op call being type-checked, with helpers that produce pointed errors. */
public final class OpCall {
  private final OpDef op;
  private final String nodeName;
  private final List<Value> inputs;
  private final Attributes attributes;

  /** Describes a call of {@code op} (to be named {@code nodeName}) on {@code inputs}. */
  public OpCall(OpDef op, String nodeName, List<Value> inputs, Attributes attributes) {
    this.op = op;
    this.nodeName = nodeName;
    this.inputs = inputs;
    this.attributes = attributes;
  }

  /** The op being called. */
  public OpDef op() {
    return op;
  }

  /** Number of inputs passed (omitted trailing optionals excluded). */
  public int count() {
    return inputs.size();
  }

  /** Input {@code i}, or null when omitted. */
  public Value input(int i) {
    return i < inputs.size() ? inputs.get(i) : null;
  }

  /** All inputs. */
  public List<Value> inputs() {
    return inputs;
  }

  /** Type of input {@code i}. */
  public TensorType type(int i) {
    return inputs.get(i).type();
  }

  /** Shape of input {@code i}. */
  public Shape shape(int i) {
    return inputs.get(i).shape();
  }

  /** Dtype of input {@code i}. */
  public DType dtype(int i) {
    return inputs.get(i).dtype();
  }

  /** The call's attributes. */
  public Attributes attributes() {
    return attributes;
  }

  /** An attribute value or null. */
  public <T> T attr(Attr<T> key) {
    return attributes.get(key);
  }

  /** An attribute value or a default. */
  public <T> T attr(Attr<T> key, T dflt) {
    return attributes.get(key, dflt);
  }

  /** An error naming the op, the node, the DSL call site and every operand with its type. */
  public ShapeError fail(String format, Object... args) {
    String operands = inputs.stream().map(v -> v == null ? "<omitted>" : v.toString())
        .collect(Collectors.joining(", "));
    return new ShapeError(op.onnxType() + " (node " + nodeName + callSite() + "): " + String.format(format, args)
        + "; operands: " + operands);
  }

  /** Fails unless the input has one of the given dtypes. */
  public void requireDType(int i, DType... allowed) {
    DType t = dtype(i);
    for (DType a : allowed) {
      if (a == t) {
        return;
      }
    }
    throw fail("input %d '%s' has dtype %s, expected one of %s", i, input(i).name(), t, List.of(allowed));
  }

  /** Fails unless the input is floating point. */
  public void requireFloat(int i) {
    if (!dtype(i).isFloating()) {
      throw fail("input %d '%s' has dtype %s, expected a floating-point type", i, input(i).name(), dtype(i));
    }
  }

  /** Fails unless inputs {@code i} and {@code j} have the same dtype. */
  public void requireSameDType(int i, int j) {
    if (dtype(i) != dtype(j)) {
      throw fail("inputs '%s' (%s) and '%s' (%s) must have the same dtype", input(i).name(), dtype(i),
          input(j).name(), dtype(j));
    }
  }

  /** Fails unless input {@code i} has rank {@code r}. */
  public void requireRank(int i, int r) {
    if (shape(i).rank() != r) {
      throw fail("input %d '%s' must have rank %d, got shape %s", i, input(i).name(), r, shape(i));
    }
  }

  /** Normalises an axis against a rank, failing with a message naming the attribute. */
  public int axis(long axis, int rank, String what) {
    if (axis < -rank || axis >= rank) {
      throw fail("%s %d is out of range for rank %d", what, axis, rank);
    }
    return (int) (axis < 0 ? axis + rank : axis);
  }

  /** The first stack frame outside the DSL's own packages: the user's line that made the call. */
  static String callSite() {
    return StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE).walk(frames -> frames
        .filter(f -> !isDslFrame(f.getDeclaringClass()))
        .findFirst()
        .map(f -> ", called at " + f.getClassName().substring(f.getClassName().lastIndexOf('.') + 1) + "."
            + f.getMethodName() + "(" + f.getFileName() + ":" + f.getLineNumber() + ")")
        .orElse(""));
  }

  /** Whether a frame is the DSL's own: JDK code, or ops/ir classes from this jar (not user code in the package). */
  private static boolean isDslFrame(Class<?> c) {
    String n = c.getName();
    if (n.startsWith("java.")) {
      return true;
    }
    if (!n.startsWith("org.twicing.dsl.ops.") && !n.startsWith("org.twicing.dsl.ir.")) {
      return false;
    }
    CodeSource mine = OpCall.class.getProtectionDomain().getCodeSource();
    CodeSource theirs = c.getProtectionDomain().getCodeSource();
    return mine == null || theirs == null
        || Objects.equals(mine.getLocation(), theirs.getLocation());
  }
}
