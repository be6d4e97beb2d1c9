package org.twicing.dsl.types;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One dimension of a shape: a monomial, a coefficient times a multiset of symbols such as {@code batch} whose
 * sizes are bound at run time. A fixed size is the monomial without symbols; {@code 49·batch} is what flattening
 * {@code [batch, 7, 7]} gives. Equality is structural, so {@code batch·49} and {@code 49·batch} are one dim.
 *
 * <p>The text form (an ONNX {@code dim_param}) is canonical: the symbols in {@link String#compareTo} order joined
 * by {@code *}, then the coefficient when it is not 1, e.g. {@code batch}, {@code T*batch}, {@code batch*49}.
 * {@link #parse} reads it back. A symbol name is any text without a {@code *} outside parentheses, balanced in its
 * parentheses, not all digits and without surrounding blanks; names built from other dims use {@link #term()}.
 */
public final class Dim {
  private final long coefficient;
  /** Sorted; repeated for powers. */
  private final List<String> symbols;

  private Dim(long coefficient, List<String> symbols) {
    this.coefficient = coefficient;
    this.symbols = symbols;
  }

  /** A dimension of fixed, known size. */
  public static Dim of(long size) {
    if (size < 0) {
      throw new IllegalArgumentException("a fixed dimension must be >= 0, got " + size);
    }
    return new Dim(size, List.of());
  }

  /** A symbolic dimension named {@code name}; two dims with the same name are the same size. */
  public static Dim sym(String name) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("a symbolic dimension needs a non-empty name");
    }
    String problem = nameProblem(name);
    if (problem != null) {
      throw new IllegalArgumentException("'" + name + "' is not a symbol name: " + problem
          + (problem.startsWith("it contains") ? " (Dim.parse reads products such as batch*49)" : ""));
    }
    return new Dim(1, List.of(name));
  }

  /**
   * The dim written as {@code text}, the form {@link #toString} gives: factors joined by {@code *} outside
   * parentheses, each a non-negative integer or a symbol name (blanks around factors are ignored). Products in any
   * order are accepted, e.g. {@code 49*batch}; the result prints canonically. Other arithmetic is not interpreted:
   * {@code s0 + 1} is one symbol, and {@code s0*s1 - 1} is read as {@code s0} times the symbol {@code s1 - 1}.
   */
  public static Dim parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("a dimension needs a non-empty text, got " + (text == null ? "null"
          : "'" + text + "'"));
    }
    Dim out = of(1);
    for (String raw : factors(text)) {
      String f = raw.strip();
      if (f.isEmpty()) {
        throw new IllegalArgumentException("dimension '" + text + "' has an empty factor; expected factors such as"
            + " batch or 49 joined by *");
      }
      if (isDigits(f)) {
        try {
          out = out.times(of(Long.parseLong(f)));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("dimension '" + text + "' has factor " + f + ", which is larger than a"
              + " long", e);
        }
      } else {
        String problem = nameProblem(f);
        if (problem != null) {
          throw new IllegalArgumentException("dimension '" + text + "' has factor '" + f + "', which is not a symbol"
              + " name: " + problem);
        }
        out = out.times(new Dim(1, List.of(f)));
      }
    }
    return out;
  }

  /** Whether the size is known when the graph is built (no symbols). */
  public boolean isFixed() {
    return symbols.isEmpty();
  }

  /** The fixed size; fails for symbolic dims. */
  public long size() {
    if (!isFixed()) {
      throw new IllegalStateException("dimension '" + this + "' is symbolic and has no fixed size");
    }
    return coefficient;
  }

  /** The integer factor: the size of a fixed dim, 49 in {@code batch*49}, 1 in {@code batch}. */
  public long coefficient() {
    return coefficient;
  }

  /** The symbol factors in canonical (sorted) order, repeated for powers; empty for a fixed dim. */
  public List<String> symbols() {
    return symbols;
  }

  /** The dim's text as an ONNX {@code dim_param} (e.g. {@code batch} or {@code batch*49}), or null when fixed. */
  public String symbol() {
    return isFixed() ? null : toString();
  }

  /** Whether this dim is the fixed size {@code n}. */
  public boolean is(long n) {
    return isFixed() && coefficient == n;
  }

  /** The product of two dims; fails when the coefficient overflows a long. */
  public Dim times(Dim other) {
    long c;
    try {
      c = Math.multiplyExact(coefficient, other.coefficient);
    } catch (ArithmeticException e) {
      throw new ArithmeticException("the product of dimensions " + this + " and " + other + " overflows a long");
    }
    if (c == 0) {
      return of(0);
    }
    if (other.symbols.isEmpty() || symbols.isEmpty()) {
      return new Dim(c, symbols.isEmpty() ? other.symbols : symbols);
    }
    List<String> merged = new ArrayList<>(symbols);
    merged.addAll(other.symbols);
    Collections.sort(merged);
    return new Dim(c, List.copyOf(merged));
  }

  /**
   * The dim {@code q} with {@code q.times(divisor)} equal to this one, when there is one: the divisor's coefficient
   * is non-zero and divides this one's, and its symbols are among this one's (e.g. {@code batch*98 / 2*batch = 49}).
   * Empty otherwise ({@code batch / T}, {@code batch*49 / 2}, anything divided by 0).
   */
  public Optional<Dim> dividedBy(Dim divisor) {
    if (divisor.coefficient == 0 || coefficient % divisor.coefficient != 0) {
      return Optional.empty();
    }
    List<String> rest = new ArrayList<>(symbols);
    for (String s : divisor.symbols) {
      if (!rest.remove(s)) {
        return Optional.empty();
      }
    }
    return Optional.of(new Dim(coefficient / divisor.coefficient, List.copyOf(rest)));
  }

  /** Whether every symbol of {@code other}, with its multiplicity, is a symbol of this dim. */
  public boolean hasSymbolsOf(Dim other) {
    List<String> rest = new ArrayList<>(symbols);
    for (String s : other.symbols) {
      if (!rest.remove(s)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The size under {@code bindings} (symbol name to size, e.g. batch=64); fails naming the first symbol that is
   * unbound or bound to a negative size, and when the size overflows a long.
   */
  public long evaluate(Map<String, Long> bindings) {
    long n = coefficient;
    for (String s : symbols) {
      Long v = bindings.get(s);
      if (v == null) {
        throw new IllegalArgumentException("no size bound for symbolic dimension '" + s + "'"
            + (symbols.size() > 1 || coefficient != 1 ? " (in " + this + ")" : "") + "; bound: " + bindings.keySet());
      }
      if (v < 0) {
        throw new IllegalArgumentException("symbolic dimension '" + s + "' is bound to " + v + "; a size must be"
            + " >= 0");
      }
      try {
        n = Math.multiplyExact(n, v);
      } catch (ArithmeticException e) {
        throw new ArithmeticException("dimension " + this + " overflows a long under " + bindings);
      }
    }
    return n;
  }

  /**
   * This dim's text as one term of a symbol name built from it (such as {@code T_pool}): a product in parentheses,
   * {@code (batch*49)}, so that the name stays one symbol; anything else as {@link #toString} writes it.
   */
  public String term() {
    return symbols.size() > 1 || symbols.size() == 1 && coefficient != 1 ? "(" + this + ")" : toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Dim d && d.coefficient == coefficient && d.symbols.equals(symbols);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(coefficient) * 31 + symbols.hashCode();
  }

  @Override
  public String toString() {
    if (symbols.isEmpty()) {
      return Long.toString(coefficient);
    }
    String s = String.join("*", symbols);
    return coefficient == 1 ? s : s + "*" + coefficient;
  }

  /** The factors of {@code text}: its pieces between {@code *}s outside parentheses. */
  private static List<String> factors(String text) {
    List<String> out = new ArrayList<>();
    int depth = 0;
    int start = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '(') {
        depth++;
      } else if (c == ')') {
        depth = Math.max(0, depth - 1);
      } else if (c == '*' && depth == 0) {
        out.add(text.substring(start, i));
        start = i + 1;
      }
    }
    out.add(text.substring(start));
    return out;
  }

  /** Why {@code name} cannot be one symbol (it would not read back as itself), or null when it can. */
  private static String nameProblem(String name) {
    if (!name.strip().equals(name)) {
      return "it has blanks at its start or end";
    }
    if (isDigits(name)) {
      return "it is all digits, which reads as a fixed size";
    }
    int depth = 0;
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '(') {
        depth++;
      } else if (c == ')') {
        if (--depth < 0) {
          return "its parentheses do not balance";
        }
      } else if (c == '*' && depth == 0) {
        return "it contains * outside parentheses, which reads as a product";
      }
    }
    return depth == 0 ? null : "its parentheses do not balance";
  }

  private static boolean isDigits(String s) {
    return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
  }
}
