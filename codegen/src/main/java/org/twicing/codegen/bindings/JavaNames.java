package org.twicing.codegen.bindings;

import com.palantir.javapoet.NameAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.lang.model.SourceVersion;

/**
 * Turns model, input and output names from any ONNX producer ({@code vit-fmnist}, {@code input_ids},
 * {@code input.1}, {@code 0}) into Java identifiers that read as if chosen by hand: {@code VitFmnist},
 * {@code inputIds}, {@code input1}, {@code INPUT_IDS}.
 */
final class JavaNames {
  /** Names a record component may not take: they would clash with the methods every object has. */
  private static final Set<String> OBJECT_METHODS = Set.of("clone", "finalize", "getClass", "hashCode", "notify",
      "notifyAll", "toString", "wait", "equals");

  private JavaNames() { }

  /** UpperCamelCase class name for {@code raw}: {@code vit-fmnist} gives {@code VitFmnist}. */
  static String typeName(String raw) {
    List<String> words = words(raw);
    StringBuilder sb = new StringBuilder();
    for (String w : words) {
      sb.append(capitalize(w));
    }
    String name = sb.length() == 0 ? "Model" : sb.toString();
    if (!Character.isJavaIdentifierStart(name.charAt(0))) {
      name = "Model" + name;
    }
    return SourceVersion.isName(name) ? name : name + "Model";
  }

  /**
   * lowerCamelCase member name for {@code raw}: {@code input_ids} gives {@code inputIds}; a Java keyword or a
   * name no word survives in gets {@code fallback} appended or used instead.
   */
  static String memberName(String raw, String fallback) {
    List<String> words = words(raw);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      sb.append(i == 0 ? decapitalize(w) : capitalize(w));
    }
    String name = sb.toString();
    if (name.isEmpty()) {
      return fallback;
    }
    if (!Character.isJavaIdentifierStart(name.charAt(0))) {
      name = fallback + name;
    }
    if (SourceVersion.isKeyword(name) || OBJECT_METHODS.contains(name)) {
      name = name + capitalize(fallback);
    }
    return name;
  }

  /** UPPER_SNAKE_CASE constant name for a lowerCamelCase member name: {@code inputIds} gives {@code INPUT_IDS}. */
  static String constantName(String member) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < member.length(); i++) {
      char c = member.charAt(i);
      if (i > 0 && Character.isUpperCase(c) && !Character.isUpperCase(member.charAt(i - 1))) {
        sb.append('_');
      } else if (i > 0 && Character.isDigit(c) && !Character.isDigit(member.charAt(i - 1))) {
        sb.append('_');
      }
      sb.append(Character.toUpperCase(c));
    }
    return sb.toString();
  }

  /**
   * The words of {@code raw}: runs of letters and digits, split at every other character and where lower case
   * turns to upper case ({@code inputIds} is two words); an all-upper-case word is lower-cased, so {@code URL}
   * becomes {@code url}.
   */
  static List<String> words(String raw) {
    List<String> out = new ArrayList<>();
    StringBuilder w = new StringBuilder();
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (!Character.isLetterOrDigit(c)) {
        flush(w, out);
        continue;
      }
      if (w.length() > 0 && Character.isUpperCase(c) && Character.isLowerCase(w.charAt(w.length() - 1))) {
        flush(w, out);
      }
      w.append(c);
    }
    flush(w, out);
    return out;
  }

  private static void flush(StringBuilder w, List<String> out) {
    if (w.length() == 0) {
      return;
    }
    String s = w.toString();
    boolean allUpper = s.chars().filter(Character::isLetter).allMatch(Character::isUpperCase);
    out.add(allUpper ? s.toLowerCase(Locale.ROOT) : s);
    w.setLength(0);
  }

  private static String capitalize(String w) {
    return w.isEmpty() ? w : Character.toUpperCase(w.charAt(0)) + w.substring(1);
  }

  private static String decapitalize(String w) {
    return w.isEmpty() ? w : Character.toLowerCase(w.charAt(0)) + w.substring(1);
  }

  /**
   * A JavaPoet {@link NameAllocator} with {@code reserved} taken (the names generated code uses itself): a name
   * asked for again gets an underscore appended until it is free.
   */
  static NameAllocator allocator(String... reserved) {
    NameAllocator names = new NameAllocator();
    for (String r : reserved) {
      names.newName(r);
    }
    return names;
  }
}
