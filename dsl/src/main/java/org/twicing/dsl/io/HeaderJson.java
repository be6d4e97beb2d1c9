package org.twicing.dsl.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small subset of JSON that safetensors headers use: objects, arrays, strings with escapes and integers.
 * Hand-written so the dsl module stays dependency-free. Parsed objects keep key order (a {@link LinkedHashMap}),
 * arrays become {@link List}s, strings {@link String}s and integers {@link Long}s.
 */
final class HeaderJson {
  private final String text;
  private int pos;

  private HeaderJson(String text) {
    this.text = text;
  }

  /** Thrown for text that is not in the supported JSON subset; the message gives the character offset. */
  static final class SyntaxException extends Exception {
    private static final long serialVersionUID = 1L;

    SyntaxException(String message) {
      super(message);
    }
  }

  /** Parses one JSON value that must make up the whole text, apart from surrounding whitespace. */
  static Object parse(String text) throws SyntaxException {
    HeaderJson p = new HeaderJson(text);
    p.skipWhitespace();
    Object value = p.value(0);
    p.skipWhitespace();
    if (p.pos != text.length()) {
      throw p.error("unexpected " + p.describeCurrent() + " after the end of the JSON value");
    }
    return value;
  }

  /** {@code s} as a JSON string literal, escaping quotes, backslashes and control characters. */
  static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  // Nesting is bounded so a hostile header cannot overflow the stack; real headers nest three deep.
  private static final int MAX_DEPTH = 64;

  private Object value(int depth) throws SyntaxException {
    if (depth > MAX_DEPTH) {
      throw error("nesting deeper than " + MAX_DEPTH + " levels");
    }
    if (pos >= text.length()) {
      throw error("unexpected end of text, expected a value");
    }
    char c = text.charAt(pos);
    if (c == '{') {
      return object(depth);
    }
    if (c == '[') {
      return array(depth);
    }
    if (c == '"') {
      return string();
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      return integer();
    }
    throw error("unexpected " + describeCurrent() + ", expected an object, array, string or integer");
  }

  private Map<String, Object> object(int depth) throws SyntaxException {
    pos++; // '{'
    Map<String, Object> map = new LinkedHashMap<>();
    skipWhitespace();
    if (peek('}')) {
      pos++;
      return map;
    }
    while (true) {
      skipWhitespace();
      if (!peek('"')) {
        throw error("unexpected " + describeCurrent() + ", expected a string key");
      }
      int keyAt = pos;
      String key = string();
      skipWhitespace();
      expect(':');
      skipWhitespace();
      Object v = value(depth + 1);
      if (map.put(key, v) != null) {
        pos = keyAt;
        throw error("duplicate key " + quote(key));
      }
      skipWhitespace();
      if (peek(',')) {
        pos++;
      } else if (peek('}')) {
        pos++;
        return map;
      } else {
        throw error("unexpected " + describeCurrent() + ", expected ',' or '}'");
      }
    }
  }

  private List<Object> array(int depth) throws SyntaxException {
    pos++; // '['
    List<Object> list = new ArrayList<>();
    skipWhitespace();
    if (peek(']')) {
      pos++;
      return list;
    }
    while (true) {
      skipWhitespace();
      list.add(value(depth + 1));
      skipWhitespace();
      if (peek(',')) {
        pos++;
      } else if (peek(']')) {
        pos++;
        return list;
      } else {
        throw error("unexpected " + describeCurrent() + ", expected ',' or ']'");
      }
    }
  }

  private String string() throws SyntaxException {
    int start = pos;
    pos++; // opening quote
    StringBuilder b = new StringBuilder();
    while (true) {
      if (pos >= text.length()) {
        pos = start;
        throw error("unterminated string");
      }
      char c = text.charAt(pos++);
      if (c == '"') {
        return b.toString();
      }
      if (c < 0x20) {
        pos--;
        throw error("raw control character U+" + String.format("%04X", (int) c) + " in a string");
      }
      if (c != '\\') {
        b.append(c);
        continue;
      }
      if (pos >= text.length()) {
        pos = start;
        throw error("unterminated string");
      }
      char e = text.charAt(pos++);
      switch (e) {
        case '"' -> b.append('"');
        case '\\' -> b.append('\\');
        case '/' -> b.append('/');
        case 'b' -> b.append('\b');
        case 'f' -> b.append('\f');
        case 'n' -> b.append('\n');
        case 'r' -> b.append('\r');
        case 't' -> b.append('\t');
        case 'u' -> {
          if (pos + 4 > text.length()) {
            pos -= 2;
            throw error("truncated \\u escape");
          }
          int code = 0;
          for (int i = 0; i < 4; i++) {
            int digit = Character.digit(text.charAt(pos + i), 16);
            if (digit < 0) {
              pos -= 2;
              throw error("bad \\u escape, expected four hex digits");
            }
            code = code * 16 + digit;
          }
          pos += 4;
          b.append((char) code);
        }
        default -> {
          pos -= 2;
          throw error("unknown escape \\" + e);
        }
      }
    }
  }

  private Long integer() throws SyntaxException {
    int start = pos;
    boolean negative = peek('-');
    if (negative) {
      pos++;
    }
    int digitsStart = pos;
    while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
      pos++;
    }
    if (pos == digitsStart) {
      pos = start;
      throw error("'-' not followed by digits");
    }
    if (pos < text.length() && (peek('.') || peek('e') || peek('E'))) {
      pos = start;
      throw error("only integers are supported in safetensors headers, found a fraction or exponent");
    }
    if (text.charAt(digitsStart) == '0' && pos - digitsStart > 1) {
      pos = start;
      throw error("integer with a leading zero");
    }
    String literal = text.substring(start, pos);
    try {
      return Long.parseLong(literal);
    } catch (NumberFormatException overflow) {
      pos = start;
      throw error("integer " + literal + " does not fit in 64 bits");
    }
  }

  private void expect(char c) throws SyntaxException {
    if (!peek(c)) {
      throw error("unexpected " + describeCurrent() + ", expected '" + c + "'");
    }
    pos++;
  }

  private boolean peek(char c) {
    return pos < text.length() && text.charAt(pos) == c;
  }

  private void skipWhitespace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return;
      }
      pos++;
    }
  }

  private String describeCurrent() {
    if (pos >= text.length()) {
      return "end of text";
    }
    char c = text.charAt(pos);
    return c < 0x20 || c > 0x7e ? String.format("character U+%04X", (int) c) : "character '" + c + "'";
  }

  private SyntaxException error(String what) {
    return new SyntaxException(what + " at character " + pos);
  }
}
