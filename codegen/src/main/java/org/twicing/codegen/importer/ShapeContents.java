package org.twicing.codegen.importer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;

/**
 * What the small integer vectors of an imported graph hold when it is built, entry by entry: a known integer or
 * a symbolic size such as {@code batch}. Exporters compute shapes at run time ({@code cls_token.expand(B, -1, -1)}
 * becomes Shape, Concat, Equal and Where; {@code flatten(2)} a Reshape to {@code [B, C, -1]}); tracking those
 * computations symbolically lets the importer hand Reshape and Expand a shape whose every size is known or named,
 * rebuilt from constants and slices of Shape so that our ops keep static types (and gradients stay possible).
 */
final class ShapeContents {
  /** One entry: a known integer (possibly negative, as Reshape's -1), or a symbolic size (never negative). */
  record Entry(long value, Dim dim) {
    static Entry of(long v) {
      return new Entry(v, null);
    }

    static Entry of(Dim d) {
      return d.isFixed() ? of(d.size()) : new Entry(0, d);
    }

    boolean known() {
      return dim == null;
    }
  }

  private static final Attr<Long> AXIS = Attr.integer("axis");
  private static final Attr<Long> TO = Attr.integer("to");

  private final Map<Value, List<Entry>> recorded = new HashMap<>();
  private final Map<Dim, Value> sources = new HashMap<>();
  private final Map<Dim, Integer> sourceAxes = new HashMap<>();

  /** Remembers where symbolic sizes can be read at run time: the dims of {@code v}'s shape. */
  void addSource(Value v) {
    for (int i = 0; i < v.rank(); i++) {
      Dim d = v.shape().dim(i);
      if (!d.isFixed() && !sources.containsKey(d)) {
        sources.put(d, v);
        sourceAxes.put(d, i);
      }
    }
  }

  /** The contents of {@code v} when it is an integer vector or scalar whose entries are all known or named. */
  List<Entry> of(Value v) {
    if (v == null || v.rank() > 1 || v.dtype().isFloating()) {
      return null;
    }
    if (v.constant() != null) {
      List<Entry> out = new ArrayList<>();
      for (long d : v.constant().toLongs()) {
        out.add(Entry.of(d));
      }
      return out;
    }
    if (v.shapeValue() != null && v.shapeValue().stream().allMatch(d -> d != null)) {
      return v.shapeValue().stream().map(Entry::of).toList();
    }
    return recorded.get(v);
  }

  /** Records the contents computed for a node output. */
  void record(Value v, List<Entry> contents) {
    if (contents != null) {
      recorded.put(v, List.copyOf(contents));
    }
  }

  /**
   * The contents of the first output of an {@code opType} node on {@code inputs}, when the op only moves or
   * compares shape entries and its inputs' contents are known; else null.
   */
  List<Entry> evaluate(String opType, List<Value> inputs, Attributes attributes) {
    List<List<Entry>> in = new ArrayList<>();
    for (Value v : inputs) {
      in.add(v == null ? null : of(v));
    }
    if (in.isEmpty() || in.get(0) == null) {
      return null;
    }
    List<Entry> a = in.get(0);
    List<Entry> b = in.size() > 1 ? in.get(1) : null;
    switch (opType) {
      case "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten" -> {
        return a;
      }
      case "Cast" -> {
        long to = attributes.get(TO, (long) DType.INT64.onnxCode());
        return to == DType.INT64.onnxCode() || to == DType.INT32.onnxCode() ? a : null;
      }
      case "Concat" -> {
        List<Entry> out = new ArrayList<>();
        for (List<Entry> part : in) {
          if (part == null) {
            return null;
          }
          out.addAll(part);
        }
        return out;
      }
      case "Gather" -> {
        if (b == null || attributes.get(AXIS, 0L) != 0 || !b.stream().allMatch(Entry::known)) {
          return null;
        }
        List<Entry> out = new ArrayList<>();
        for (Entry i : b) {
          long k = i.value() < 0 ? i.value() + a.size() : i.value();
          if (k < 0 || k >= a.size()) {
            return null;
          }
          out.add(a.get((int) k));
        }
        return out;
      }
      case "Slice" -> {
        return slice(a, inputs, in);
      }
      case "Equal" -> {
        return zip(a, b, (x, y) -> {
          if (x.known() && y.known()) {
            return Entry.of(x.value() == y.value() ? 1 : 0);
          }
          if (!x.known() && !y.known()) {
            return x.dim().equals(y.dim()) ? Entry.of(1) : null;
          }
          Entry k = x.known() ? x : y;
          // A size is never negative: comparing it with -1 is false whatever the batch size.
          return k.value() < 0 ? Entry.of(0) : null;
        });
      }
      case "Where" -> {
        List<Entry> y = in.size() > 2 ? in.get(2) : null;
        if (b == null || y == null || !a.stream().allMatch(Entry::known)) {
          return null;
        }
        int n = Math.max(a.size(), Math.max(b.size(), y.size()));
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          Entry c = pick(a, i);
          Entry x = pick(b, i);
          Entry z = pick(y, i);
          if (c == null || x == null || z == null) {
            return null;
          }
          out.add(c.value() != 0 ? x : z);
        }
        return out;
      }
      case "Add", "Sub", "Mul", "Div" -> {
        return zip(a, b, (x, y) -> arithmetic(opType, x, y));
      }
      default -> {
        return null;
      }
    }
  }

  private static Entry arithmetic(String op, Entry x, Entry y) {
    if (x.known() && y.known()) {
      long v = switch (op) {
        case "Add" -> x.value() + y.value();
        case "Sub" -> x.value() - y.value();
        case "Mul" -> x.value() * y.value();
        default -> y.value() == 0 ? Long.MIN_VALUE : x.value() / y.value();
      };
      return v == Long.MIN_VALUE ? null : Entry.of(v);
    }
    boolean identity = switch (op) {
      case "Add" -> y.known() && y.value() == 0 || x.known() && x.value() == 0;
      case "Sub" -> y.known() && y.value() == 0;
      case "Mul" -> y.known() && y.value() == 1 || x.known() && x.value() == 1;
      default -> y.known() && y.value() == 1;
    };
    return identity ? (x.known() ? y : x) : null;
  }

  /** Slice of a shape vector with one known start and end, on axis 0 with step 1 (as exporters write it). */
  private static List<Entry> slice(List<Entry> a, List<Value> inputs, List<List<Entry>> in) {
    if (in.size() < 3 || in.get(1) == null || in.get(2) == null || in.get(1).size() != 1 || in.get(2).size() != 1) {
      return null;
    }
    for (int i = 3; i < in.size(); i++) {
      if (inputs.get(i) == null) {
        continue;
      }
      List<Entry> p = in.get(i);
      boolean ok = p != null && p.size() == 1 && p.get(0).known()
          && (i == 3 ? p.get(0).value() == 0 || p.get(0).value() == -1 : p.get(0).value() == 1);
      if (!ok) {
        return null;
      }
    }
    Entry s = in.get(1).get(0);
    Entry e = in.get(2).get(0);
    if (!s.known() || !e.known()) {
      return null;
    }
    int n = a.size();
    long start = s.value() < 0 ? Math.max(0, s.value() + n) : Math.min(s.value(), n);
    long end = e.value() < 0 ? Math.max(0, e.value() + n) : Math.min(e.value(), n);
    return end <= start ? List.of() : a.subList((int) start, (int) end);
  }

  private interface Pair {
    Entry apply(Entry x, Entry y);
  }

  private static List<Entry> zip(List<Entry> a, List<Entry> b, Pair f) {
    if (a == null || b == null) {
      return null;
    }
    int n = Math.max(a.size(), b.size());
    List<Entry> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Entry x = pick(a, i);
      Entry y = pick(b, i);
      Entry r = x == null || y == null ? null : f.apply(x, y);
      if (r == null) {
        return null;
      }
      out.add(r);
    }
    return out;
  }

  /** Entry {@code i} under broadcasting of a length-1 (or scalar) list; null when the lengths do not broadcast. */
  private static Entry pick(List<Entry> l, int i) {
    if (l.size() == 1) {
      return l.get(0);
    }
    return i < l.size() ? l.get(i) : null;
  }

  /**
   * Resolves Reshape's 0 (copy) and -1 (inferred) entries of {@code target} against the data shape {@code in}:
   * the -1 is the known factor left after the symbolic sizes on both sides cancel; null when they do not.
   */
  static List<Entry> resolveReshape(Shape in, List<Entry> target) {
    List<Entry> out = new ArrayList<>();
    int minusOne = -1;
    for (int i = 0; i < target.size(); i++) {
      Entry e = target.get(i);
      if (e.known() && e.value() == 0) {
        if (i >= in.rank()) {
          return null;
        }
        out.add(Entry.of(in.dim(i)));
      } else if (e.known() && e.value() == -1) {
        minusOne = i;
        out.add(e);
      } else if (e.known() && e.value() < 0) {
        return null;
      } else {
        out.add(e);
      }
    }
    if (minusOne < 0) {
      return out;
    }
    List<Dim> left = new ArrayList<>();
    long fixed = 1;
    for (Dim d : in.dims()) {
      if (d.isFixed()) {
        fixed *= d.size();
      } else {
        left.add(d);
      }
    }
    long other = 1;
    for (int i = 0; i < out.size(); i++) {
      Entry e = out.get(i);
      if (i == minusOne) {
        continue;
      }
      if (e.known()) {
        other *= e.value();
      } else if (!left.remove(e.dim())) {
        return null;
      }
    }
    if (!left.isEmpty() || other == 0 || fixed % other != 0) {
      return null;
    }
    out.set(minusOne, Entry.of(fixed / other));
    return out;
  }

  /**
   * A rank-1 int64 value holding {@code contents} whose every entry is known (non-negative) or named: constants
   * for known runs and Shape slices of a value that has the named size, concatenated. Null when a named size has
   * no source or an entry is negative.
   */
  Value materialize(GraphBuilder g, List<Entry> contents, String scope) {
    List<Value> parts = new ArrayList<>();
    List<Long> run = new ArrayList<>();
    try (var s = g.absoluteScope(scope)) {
      for (Entry e : contents) {
        if (e.known()) {
          if (e.value() < 0) {
            return null;
          }
          run.add(e.value());
          continue;
        }
        Value src = sources.get(e.dim());
        if (src == null) {
          return null;
        }
        if (!run.isEmpty()) {
          parts.add(Ops.constant(g, Tensor.longs(run.stream().mapToLong(Long::longValue).toArray())));
          run.clear();
        }
        parts.add(Ops.dimOf(src, sourceAxes.get(e.dim())));
      }
      if (!run.isEmpty() || parts.isEmpty()) {
        parts.add(Ops.constant(g, Tensor.longs(run.stream().mapToLong(Long::longValue).toArray())));
      }
      return parts.size() == 1 ? parts.get(0) : Ops.concat(0, parts.toArray(new Value[0]));
    }
  }
}
