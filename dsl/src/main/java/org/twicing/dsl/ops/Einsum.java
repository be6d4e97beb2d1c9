package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attr;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Einsum over explicit subscripts ({@code "bij,bjk->bik"}), implicit output ({@code "ij,jk"}) and an ellipsis
 * ({@code "...ij,...jk->...ik"}) standing for the same number of dims in every operand (as ONNX requires), whose
 * size-1 dims broadcast. Each label may appear once per operand (no diagonals).
 * The gradient of operand i is the Einsum of the upstream gradient with the other operands, to operand i's labels.
 */
final class Einsum {
  private Einsum() { }

  static final Attr<String> EQUATION = Attr.string("equation");

  /** Label codes at or above this stand for ellipsis dims (position {@code code - ELLIPSIS} of the ellipsis). */
  private static final int ELLIPSIS = 1000;

  /**
   * A parsed equation resolved against operand ranks: each operand's labels (letters as char codes, ellipsis dims
   * as {@code ELLIPSIS + j}, right-aligned over an ellipsis of rank {@code ellipsisRank}) and the output's labels.
   */
  record Spec(List<int[]> operands, int[] output, int ellipsisRank) {
    /** Every label, in first-seen order (output first). */
    List<Integer> labels() {
      TreeSet<Integer> seen = new TreeSet<>();
      List<Integer> all = new ArrayList<>();
      for (int l : output) {
        if (seen.add(l)) {
          all.add(l);
        }
      }
      for (int[] op : operands) {
        for (int l : op) {
          if (seen.add(l)) {
            all.add(l);
          }
        }
      }
      return all;
    }
  }

  /** Parses {@code equation} for operands of the given ranks; errors go through {@code err}. */
  static Spec parse(String equation, int[] ranks, Function<String, RuntimeException> err) {
    String eq = equation.replace(" ", "");
    String lhs = eq;
    String rhs = null;
    int arrow = eq.indexOf("->");
    if (arrow >= 0) {
      lhs = eq.substring(0, arrow);
      rhs = eq.substring(arrow + 2);
    }
    String[] terms = lhs.split(",", -1);
    if (terms.length != ranks.length) {
      throw err.apply("equation \"" + equation + "\" has " + terms.length + " operand terms but " + ranks.length
          + " operands were given");
    }
    int ell = 0;
    int ellFrom = -1;
    List<int[]> ops = new ArrayList<>();
    List<String> letters = new ArrayList<>();
    for (int i = 0; i < terms.length; i++) {
      String t = terms[i];
      boolean hasEll = t.contains("...");
      String lettersOnly = t.replace("...", "");
      checkLetters(lettersOnly, equation, err);
      if (hasEll && t.indexOf("...") != t.lastIndexOf("...")) {
        throw err.apply("term \"" + t + "\" of \"" + equation + "\" has more than one ellipsis");
      }
      int e = ranks[i] - lettersOnly.length();
      if (e < 0 || (!hasEll && e != 0)) {
        throw err.apply("term \"" + t + "\" of \"" + equation + "\" has " + lettersOnly.length() + " labels"
            + (hasEll ? " plus an ellipsis" : "") + " but operand " + i + " has rank " + ranks[i]);
      }
      for (int a = 0; a < lettersOnly.length(); a++) {
        if (lettersOnly.indexOf(lettersOnly.charAt(a)) != a) {
          throw err.apply("label '" + lettersOnly.charAt(a) + "' repeats within term \"" + t + "\" of \"" + equation
              + "\": diagonals are not supported");
        }
      }
      if (hasEll && ellFrom >= 0 && e != ell) {
        // ONNX's Einsum shape inference requires every ellipsis to stand for the same number of dims.
        throw err.apply("the ellipsis stands for " + ell + " dims in operand " + ellFrom + " but " + e
            + " in operand " + i + " of \"" + equation + "\"; ONNX requires the same number in every operand");
      }
      if (hasEll && ellFrom < 0) {
        ell = e;
        ellFrom = i;
      }
      letters.add(t);
    }
    for (int i = 0; i < terms.length; i++) {
      ops.add(labelsOf(letters.get(i), ranks[i], ell));
    }
    int[] out;
    if (rhs != null) {
      String lettersOnly = rhs.replace("...", "");
      checkLetters(lettersOnly, equation, err);
      out = labelsOf(rhs, rhs.contains("...") ? lettersOnly.length() + ell : lettersOnly.length(), ell);
      for (int a = 0; a < lettersOnly.length(); a++) {
        char ch = lettersOnly.charAt(a);
        if (lettersOnly.indexOf(ch) != a) {
          throw err.apply("output label '" + ch + "' repeats in \"" + equation + "\"");
        }
        if (!lhs.contains(String.valueOf(ch))) {
          throw err.apply("output label '" + ch + "' of \"" + equation + "\" appears in no operand");
        }
      }
      if (!rhs.contains("...") && ell > 0) {
        throw err.apply("the operands of \"" + equation + "\" have an ellipsis but the output does not keep it "
            + "(summing over ellipsis dims is not supported)");
      }
    } else {
      Map<Character, Integer> counts = new LinkedHashMap<>();
      for (char ch : lhs.replace("...", "").replace(",", "").toCharArray()) {
        counts.merge(ch, 1, Integer::sum);
      }
      TreeSet<Character> once = new TreeSet<>();
      counts.forEach((ch, n) -> {
        if (n == 1) {
          once.add(ch);
        }
      });
      out = new int[ell + once.size()];
      for (int j = 0; j < ell; j++) {
        out[j] = ELLIPSIS + j;
      }
      int k = ell;
      for (char ch : once) {
        out[k++] = ch;
      }
    }
    return new Spec(ops, out, ell);
  }

  private static void checkLetters(String s, String equation, Function<String, RuntimeException> err) {
    for (char ch : s.toCharArray()) {
      if (!Character.isLetter(ch) || ch > 'z') {
        throw err.apply("equation \"" + equation + "\" has '" + ch + "' where a letter label, ',', '->' or '...' "
            + "was expected");
      }
    }
  }

  /** The labels of one term for rank {@code rank}: its ellipsis covers the last ellipsis dims it needs. */
  private static int[] labelsOf(String term, int rank, int ell) {
    int[] out = new int[rank];
    int k = 0;
    for (int a = 0; a < term.length(); a++) {
      if (term.startsWith("...", a)) {
        int e = rank - term.replace("...", "").length();
        for (int j = ell - e; j < ell; j++) {
          out[k++] = ELLIPSIS + j;
        }
        a += 2;
      } else {
        out[k++] = term.charAt(a);
      }
    }
    return out;
  }

  private static int[] ranks(List<Integer> ranks) {
    return ranks.stream().mapToInt(Integer::intValue).toArray();
  }

  static final OpDef EINSUM = new OpDef("Einsum") {
    @Override
    public List<TensorType> infer(OpCall call) {
      String eq = call.attr(EQUATION);
      if (eq == null) {
        throw call.fail("the equation attribute is required");
      }
      if (call.count() < 1) {
        throw call.fail("expects at least 1 operand");
      }
      List<Integer> rs = new ArrayList<>();
      for (int i = 0; i < call.count(); i++) {
        call.requireSameDType(0, i);
        rs.add(call.shape(i).rank());
      }
      if (!call.dtype(0).isNumeric()) {
        throw call.fail("dtype %s is not numeric", call.dtype(0));
      }
      Spec spec = parse(eq, ranks(rs), call::fail);
      Map<Integer, Dim> dims = new LinkedHashMap<>();
      for (int i = 0; i < call.count(); i++) {
        int[] ls = spec.operands().get(i);
        for (int a = 0; a < ls.length; a++) {
          Dim d = call.shape(i).dim(a);
          Dim prev = dims.get(ls[a]);
          boolean ell = ls[a] >= ELLIPSIS;
          if (prev == null || (ell && prev.is(1))) {
            dims.put(ls[a], d);
          } else if (!(ell && d.is(1)) && prev.isFixed() && d.isFixed() && prev.size() != d.size()) {
            throw call.fail("label %s has size %s in one operand and %s in operand %d '%s' of \"%s\"",
                ell ? "'...'" : "'" + (char) ls[a] + "'", prev, d, i, call.input(i).name(), eq);
          } else if (!prev.isFixed() && d.isFixed() && !(ell && d.is(1))) {
            dims.put(ls[a], d);
          }
        }
      }
      List<Dim> out = new ArrayList<>();
      for (int l : spec.output()) {
        out.add(dims.get(l));
      }
      return List.of(new TensorType(call.dtype(0), Shape.of(out)));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      int[] rs = in.stream().mapToInt(Tensor::rank).toArray();
      Spec spec = parse(a.get(EQUATION), rs, m -> new IllegalArgumentException("Einsum: " + m));
      List<Integer> labels = spec.labels();
      Map<Integer, Integer> slot = new LinkedHashMap<>();
      long[] size = new long[labels.size()];
      Arrays.fill(size, 1);
      for (int k = 0; k < labels.size(); k++) {
        slot.put(labels.get(k), k);
      }
      for (int i = 0; i < in.size(); i++) {
        int[] ls = spec.operands().get(i);
        for (int d = 0; d < ls.length; d++) {
          int k = slot.get(ls[d]);
          size[k] = Math.max(size[k], in.get(i).dim(d));
        }
      }
      // Per operand: the stride each label slot moves its flat index by (0 where broadcast or absent).
      long[][] strides = new long[in.size()][labels.size()];
      for (int i = 0; i < in.size(); i++) {
        long[] st = Kernels.strides(in.get(i).shape());
        int[] ls = spec.operands().get(i);
        for (int d = 0; d < ls.length; d++) {
          if (in.get(i).dim(d) != 1) {
            strides[i][slot.get(ls[d])] += st[d];
          }
        }
      }
      long[] outShape = new long[spec.output().length];
      for (int j = 0; j < outShape.length; j++) {
        outShape[j] = size[slot.get(spec.output()[j])];
      }
      long[] outStrideBySlot = new long[labels.size()];
      long[] ost = Kernels.strides(outShape);
      for (int j = 0; j < outShape.length; j++) {
        outStrideBySlot[slot.get(spec.output()[j])] = ost[j];
      }
      Tensor.Builder out = Tensor.builder(in.get(0).dtype(), outShape);
      long total = Tensor.numel(size);
      long[] idx = new long[labels.size()];
      for (long t = 0; t < total; t++) {
        double prod = 1;
        for (int i = 0; i < in.size() && prod != 0; i++) {
          long f = 0;
          for (int k = 0; k < idx.length; k++) {
            f += idx[k] * strides[i][k];
          }
          prod *= in.get(i).get((int) f);
        }
        long o = 0;
        for (int k = 0; k < idx.length; k++) {
          o += idx[k] * outStrideBySlot[k];
        }
        out.add((int) o, prod);
        for (int k = idx.length - 1; k >= 0; k--) {
          if (++idx[k] < size[k]) {
            break;
          }
          idx[k] = 0;
        }
      }
      return List.of(out.build(rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      Value dy = g.grad(0);
      int n = g.node().inputs().size();
      List<Value> grads = new ArrayList<>(Arrays.asList(new Value[n]));
      if (dy == null) {
        return grads;
      }
      int[] rs = g.node().inputs().stream().mapToInt(Value::rank).toArray();
      String eq = g.attr(EQUATION, "");
      Function<String, RuntimeException> err = m -> new UnsupportedOperationException("Einsum gradient (node "
          + g.node().name() + "): " + m);
      Spec spec = parse(eq, rs, err);
      // Ellipsis dims become spare letters so that a gradient can sum over ellipsis dims its operand lacks.
      Map<Integer, Character> letter = new LinkedHashMap<>();
      TreeSet<Character> used = new TreeSet<>();
      for (char ch : eq.toCharArray()) {
        if (Character.isLetter(ch)) {
          used.add(ch);
        }
      }
      String spare = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".chars()
          .filter(c -> !used.contains((char) c)).collect(StringBuilder::new, StringBuilder::appendCodePoint,
              StringBuilder::append).toString();
      for (int j = 0; j < spec.ellipsisRank(); j++) {
        if (j >= spare.length()) {
          throw err.apply("too many labels to name the ellipsis dims");
        }
        letter.put(ELLIPSIS + j, spare.charAt(j));
      }
      Map<Integer, Dim> full = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        int[] ls = spec.operands().get(i);
        for (int d = 0; d < ls.length; d++) {
          Dim dim = g.input(i).shape().dim(d);
          full.merge(ls[d], dim, (p, q) -> p.is(1) ? q : p);
        }
      }
      for (int i = 0; i < n; i++) {
        int[] ls = spec.operands().get(i);
        for (int d = 0; d < ls.length; d++) {
          Dim dim = g.input(i).shape().dim(d);
          if (dim.is(1) && !full.get(ls[d]).is(1)) {
            throw err.apply("operand " + i + " broadcasts an ellipsis dim of size 1 against "
                + full.get(ls[d]) + "; the gradient supports equal ellipsis dims only");
          }
        }
      }
      for (int i = 0; i < n; i++) {
        if (!g.needs(i)) {
          continue;
        }
        int[] mine = spec.operands().get(i);
        TreeSet<Integer> available = new TreeSet<>();
        for (int l : spec.output()) {
          available.add(l);
        }
        List<Value> operands = new ArrayList<>(List.of(dy));
        StringBuilder lhs = new StringBuilder(term(spec.output(), letter));
        for (int j = 0; j < n; j++) {
          if (j != i) {
            for (int l : spec.operands().get(j)) {
              available.add(l);
            }
            operands.add(g.input(j));
            lhs.append(',').append(term(spec.operands().get(j), letter));
          }
        }
        List<Integer> kept = new ArrayList<>();
        List<Long> missing = new ArrayList<>();
        for (int d = 0; d < mine.length; d++) {
          if (available.contains(mine[d])) {
            kept.add(mine[d]);
          } else {
            missing.add((long) d);
          }
        }
        String e = lhs + "->" + term(kept.stream().mapToInt(Integer::intValue).toArray(), letter);
        Value gi = einsum(e, operands.toArray(new Value[0]));
        if (!missing.isEmpty()) {
          // Labels only operand i has were summed away in the forward pass: their gradient is a broadcast.
          gi = expandLike(unsqueeze(gi, missing.stream().mapToLong(Long::longValue).toArray()), g.input(i));
        }
        grads.set(i, gi);
      }
      return grads;
    }
  };

  private static String term(int[] labels, Map<Integer, Character> letter) {
    StringBuilder sb = new StringBuilder();
    for (int l : labels) {
      sb.append(l >= ELLIPSIS ? letter.get(l) : (char) l);
    }
    return sb.toString();
  }
}
