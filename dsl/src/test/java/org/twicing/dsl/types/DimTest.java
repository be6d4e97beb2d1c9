package org.twicing.dsl.types;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Checks symbolic dims against a plain reference: a product kept as its list of factors (longs and symbol names),
 * evaluated with long arithmetic and compared as a coefficient and per-symbol exponents.
 */
class DimTest {
  private static final List<String> NAMES = List.of("batch", "T", "S", "heads", "x_dim0", "(a*b)+1");

  /** The reference form of a product: its factors, each a Long or a symbol name, in the order they were drawn. */
  private record Factors(List<Object> items) {
    long coefficient() {
      long c = 1;
      for (Object o : items) {
        if (o instanceof Long n) {
          c *= n;
        }
      }
      return c;
    }

    /** Exponent of each symbol; all zero when the coefficient is 0 (then the product is the fixed size 0). */
    int[] exponents() {
      int[] e = new int[NAMES.size()];
      if (coefficient() != 0) {
        for (Object o : items) {
          if (o instanceof String s) {
            e[NAMES.indexOf(s)]++;
          }
        }
      }
      return e;
    }

    long evaluate(Map<String, Long> bindings) {
      long n = 1;
      for (Object o : items) {
        n *= o instanceof Long v ? v : bindings.get((String) o);
      }
      return n;
    }

    /** The dim multiplied out in the given order. */
    Dim dim() {
      Dim d = Dim.of(1);
      for (Object o : items) {
        d = d.times(o instanceof Long n ? Dim.of(n) : Dim.sym((String) o));
      }
      return d;
    }
  }

  private static Factors randomFactors(Random rng) {
    List<Object> items = new ArrayList<>();
    int n = rng.nextInt(5);
    for (int i = 0; i < n; i++) {
      if (rng.nextInt(3) == 0) {
        items.add((long) (rng.nextInt(20) == 0 ? 0 : 1 + rng.nextInt(12)));
      } else {
        items.add(NAMES.get(rng.nextInt(NAMES.size())));
      }
    }
    return new Factors(items);
  }

  private static Map<String, Long> randomBindings(Random rng, int min) {
    Map<String, Long> b = new HashMap<>();
    for (String s : NAMES) {
      b.put(s, (long) (min + rng.nextInt(9)));
    }
    return b;
  }

  @Test
  void productsEvaluateAsPlainLongArithmeticWhateverTheOrder() {
    Random rng = new Random(1);
    for (int trial = 0; trial < 2000; trial++) {
      Factors f = randomFactors(rng);
      List<Object> shuffled = new ArrayList<>(f.items());
      Collections.shuffle(shuffled, rng);
      Dim d = f.dim();
      Dim e = new Factors(shuffled).dim();
      assertEquals(d, e, "the factors " + f.items() + " in another order");
      assertEquals(d.hashCode(), e.hashCode(), "hash of " + d);
      Map<String, Long> b = randomBindings(rng, 0);
      assertEquals(f.evaluate(b), d.evaluate(b), d + " under " + b);
      assertEquals(f.coefficient(), d.coefficient(), "coefficient of " + d);
      assertEquals(Arrays.stream(f.exponents()).sum() == 0, d.isFixed(), "fixed: " + d);
      if (d.isFixed()) {
        assertEquals(f.coefficient(), d.size());
      }
    }
  }

  @Test
  void equalityMatchesCoefficientAndExponents() {
    Random rng = new Random(2);
    for (int trial = 0; trial < 2000; trial++) {
      Factors f = randomFactors(rng);
      Factors g = randomFactors(rng);
      boolean same = f.coefficient() == g.coefficient()
          && Arrays.equals(f.exponents(), g.exponents());
      assertEquals(same, f.dim().equals(g.dim()), f.items() + " vs " + g.items());
    }
  }

  @Test
  void exactDivisionIsTheInverseOfTimesAndInexactDivisionIsEmpty() {
    Random rng = new Random(3);
    int exact = 0;
    for (int trial = 0; trial < 3000; trial++) {
      Factors f = randomFactors(rng);
      Factors g = randomFactors(rng);
      if (rng.nextBoolean()) {
        // Make many pairs divisible: f = g * something.
        List<Object> items = new ArrayList<>(g.items());
        items.addAll(f.items());
        f = new Factors(items);
      }
      int[] ef = f.exponents();
      int[] eg = g.exponents();
      boolean divides = g.coefficient() != 0 && f.coefficient() % g.coefficient() == 0;
      for (int i = 0; i < ef.length; i++) {
        divides &= eg[i] <= ef[i];
      }
      Optional<Dim> q = f.dim().dividedBy(g.dim());
      assertEquals(divides, q.isPresent(), f.items() + " / " + g.items());
      if (q.isPresent()) {
        exact++;
        assertEquals(f.dim(), q.get().times(g.dim()), "(" + f.dim() + " / " + g.dim() + ") * " + g.dim());
        Map<String, Long> b = randomBindings(rng, 1);
        assertEquals(f.evaluate(b) / g.evaluate(b), q.get().evaluate(b), f.dim() + " / " + g.dim() + " under " + b);
      }
    }
    assertTrue(exact > 500, "too few exact divisions drawn: " + exact);
  }

  @Test
  void divisionExamples() {
    Dim batch = Dim.sym("batch");
    assertEquals(Optional.of(Dim.of(49)), batch.times(Dim.of(98)).dividedBy(batch.times(Dim.of(2))));
    assertEquals(Optional.of(batch), batch.times(Dim.of(49)).dividedBy(Dim.of(49)));
    assertEquals(Optional.empty(), batch.times(Dim.of(49)).dividedBy(Dim.of(2)));
    assertEquals(Optional.empty(), batch.dividedBy(Dim.sym("T")));
    assertEquals(Optional.empty(), Dim.of(6).dividedBy(Dim.of(0)));
    assertEquals(Optional.empty(), Dim.of(0).dividedBy(Dim.of(0)));
    assertTrue(batch.times(Dim.of(4)).hasSymbolsOf(batch.times(Dim.of(3))));
    assertFalse(batch.hasSymbolsOf(batch.times(batch)));
  }

  @Test
  void textIsCanonicalAndParsesBack() {
    Dim batch = Dim.sym("batch");
    // The forms emitted as dim_param before dims were a type: sorted symbols, then the coefficient.
    assertEquals("batch", batch.toString());
    assertEquals("batch*49", Dim.of(49).times(batch).toString());
    assertEquals("batch*49", batch.times(Dim.of(7)).times(Dim.of(7)).toString());
    assertEquals("T*batch", batch.times(Dim.sym("T")).toString());
    assertEquals("T*batch*4", Dim.of(2).times(batch).times(Dim.of(2)).times(Dim.sym("T")).toString());
    assertEquals("batch*batch", batch.times(batch).toString());
    assertEquals("12", Dim.of(12).toString());
    assertEquals("batch*49", batch.times(Dim.of(49)).symbol());
    assertNull(Dim.of(3).symbol());
    assertEquals(List.of("T", "batch", "batch"), batch.times(Dim.sym("T")).times(batch).symbols());

    assertEquals(Dim.of(49).times(batch), Dim.parse("49*batch"));
    assertEquals(Dim.of(49).times(batch), Dim.parse(" 7 * batch*7 "));
    assertEquals(Dim.of(7), Dim.parse("7"));
    assertEquals(Dim.sym("(a*b)+1"), Dim.parse("(a*b)+1"));
    assertEquals(Dim.sym("sequence length"), Dim.parse("sequence length"));

    Random rng = new Random(4);
    for (int trial = 0; trial < 1000; trial++) {
      Dim d = randomFactors(rng).dim();
      assertEquals(d, Dim.parse(d.toString()), "parse of " + d);
      assertEquals(d.toString(), Dim.parse(d.toString()).toString());
    }
  }

  @Test
  void termsKeepDerivedNamesOneSymbol() {
    Dim product = Dim.sym("batch").times(Dim.of(49));
    assertEquals("(batch*49)", product.term());
    assertEquals("batch", Dim.sym("batch").term());
    assertEquals("7", Dim.of(7).term());
    Dim derived = Dim.sym(product.term() + "_pool");
    assertEquals(List.of("(batch*49)_pool"), derived.symbols());
    assertEquals(1, derived.coefficient());
    assertEquals(derived, Dim.parse(derived.toString()));
    Dim sum = Dim.sym(product.term() + "+" + Dim.sym("T").term());
    assertEquals(sum, Dim.parse(sum.toString()));
  }

  @Test
  void badNamesAndTextsFailNamingTheProblem() {
    assertMessage(() -> Dim.sym("batch*49"), "'batch*49'", "Dim.parse");
    assertMessage(() -> Dim.sym("49"), "'49'", "digits");
    assertMessage(() -> Dim.sym(" batch"), "' batch'", "blanks");
    assertMessage(() -> Dim.sym("f(x"), "'f(x'", "parentheses");
    assertMessage(() -> Dim.sym(""), "non-empty");
    assertMessage(() -> Dim.parse("batch**2"), "'batch**2'", "empty factor");
    assertMessage(() -> Dim.parse("  "), "non-empty");
    assertMessage(() -> Dim.parse("batch*f(x"), "'batch*f(x'", "'f(x'", "parentheses");
    assertMessage(() -> Dim.parse("99999999999999999999*batch"), "99999999999999999999", "long");
    assertMessage(() -> Dim.of(-1), "-1");
    assertMessage(() -> Dim.sym("batch").times(Dim.of(7)).size(), "'batch*7'", "symbolic");
  }

  @Test
  void evaluateNamesTheUnboundSymbol() {
    Dim d = Dim.parse("T*batch*4");
    assertMessage(() -> d.evaluate(Map.of("batch", 2L)), "'T'", "T*batch*4", "[batch]");
    assertMessage(() -> Dim.sym("S").evaluate(Map.of()), "'S'");
    assertMessage(() -> d.evaluate(Map.of("batch", 2L, "T", -3L)), "'T'", "-3");
    assertEquals(40, d.evaluate(Map.of("batch", 2L, "T", 5L)));
    assertEquals(9, Dim.of(9).evaluate(Map.of()));
  }

  @Test
  void overflowFailsInsteadOfWrapping() {
    Dim big = Dim.of(Long.MAX_VALUE / 2 + 1);
    assertThrows(ArithmeticException.class, () -> big.times(Dim.of(2)));
    Dim d = Dim.sym("batch").times(big);
    assertThrows(ArithmeticException.class, () -> d.evaluate(Map.of("batch", 2L)));
  }

  @Test
  void zeroAndOneBehaveAsNumbers() {
    Dim batch = Dim.sym("batch");
    assertEquals(Dim.of(0), Dim.of(0).times(batch));
    assertTrue(Dim.of(0).times(batch).is(0));
    assertEquals(batch, Dim.of(1).times(batch));
    assertEquals(batch, batch.times(Dim.of(1)));
    assertFalse(batch.is(1));
    assertNotEquals(batch, Dim.sym("Batch"));
  }

  private static void assertMessage(Runnable r, String... fragments) {
    RuntimeException e = assertThrows(RuntimeException.class, r::run);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' lacks " + f);
    }
  }
}
