package org.twicing.codegen.bindings;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The Javadoc prose of generated bindings: model and tensor names as safe {@code {@code}} or escaped HTML,
 * paragraphs wrapped to the line width the way hand-written Javadoc is, and the recurring lists of ports.
 */
final class JavadocText {
  private static final int WIDTH = 100;
  /** A word of Javadoc prose: inline tags and other non-blank runs, up to the next blank outside a tag. */
  private static final Pattern WORD = Pattern.compile("(\\{@[^}]*\\}|[^\\s{])+");

  private JavadocText() { }

  /** An HTML list of the inputs and outputs with their types. */
  static String ports(List<Port> inputs, List<Port> outputs) {
    StringBuilder sb = new StringBuilder("<ul>\n");
    for (Port p : inputs) {
      sb.append("  <li>input ").append(code(p.spec().name())).append(": ").append(p.spec().dtype()).append(' ')
          .append(code(p.spec().shape())).append('\n');
    }
    for (Port p : outputs) {
      sb.append("  <li>output ").append(code(p.spec().name())).append(": ").append(p.spec().dtype()).append(' ')
          .append(code(p.spec().shape())).append('\n');
    }
    return sb.append("</ul>").toString();
  }

  /** The ports' ONNX names as Javadoc code, comma-separated. */
  static String inputsList(List<Port> ports) {
    return ports.stream().map(p -> code(p.spec().name())).collect(Collectors.joining(", "));
  }

  /** The {@code @return} text of a method returning {@code outputs}. */
  static String outputsDoc(List<Port> outputs) {
    if (outputs.size() == 1) {
      return "the output " + outputs.get(0).describe();
    }
    return "the outputs: " + outputs.stream().map(p -> code(p.member()) + " " + p.describe())
        .collect(Collectors.joining(", "));
  }

  /** Text as Javadoc {@code code}: {@code {@code ...}} when it is safe there, else escaped HTML. */
  static String code(String s) {
    if (s.matches("[A-Za-z0-9_\\[\\], .?:+\\-=()]*") && !s.isEmpty()) {
      return "{@code " + s + "}";
    }
    return "<code>" + html(s) + "</code>";
  }

  /** Escapes text for Javadoc HTML (also neutralising comment ends, tags and inline tags). */
  static String html(String s) {
    StringBuilder sb = new StringBuilder();
    for (char c : s.toCharArray()) {
      switch (c) {
        case '&' -> sb.append("&amp;");
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '@' -> sb.append("&#64;");
        case '/' -> sb.append("&#47;");
        case '{' -> sb.append("&#123;");
        case '}' -> sb.append("&#125;");
        case '\\' -> sb.append("&#92;");
        default -> sb.append(c < ' ' ? ' ' : c);
      }
    }
    return sb.toString();
  }

  /**
   * Javadoc text from paragraphs: each is wrapped to the line width ({@code @param} and {@code @throws}
   * continuations indented by four), an empty one is a blank line, and {@code <ul>} blocks are kept as they are.
   */
  static String javadoc(String... paragraphs) {
    StringBuilder sb = new StringBuilder();
    for (String p : paragraphs) {
      if (p.startsWith("<ul>")) {
        sb.append(p).append('\n');
        continue;
      }
      if (p.isEmpty()) {
        sb.append('\n');
        continue;
      }
      String indent = p.startsWith("@") ? "    " : "";
      StringBuilder line = new StringBuilder();
      for (String word : words(p)) {
        if (line.length() > 0 && line.length() + 1 + word.length() > WIDTH - 7) {
          sb.append(line).append('\n');
          line.setLength(0);
          line.append(indent);
        }
        if (line.length() > 0 && !line.toString().equals(indent)) {
          line.append(' ');
        }
        line.append(word);
      }
      sb.append(line).append('\n');
    }
    return blankLinesBeforeParagraphs(sb.toString());
  }

  /** The words of a paragraph, keeping each inline tag such as <code>{&#64;code a b}</code> in one piece. */
  private static List<String> words(String paragraph) {
    List<String> out = new ArrayList<>();
    Matcher m = WORD.matcher(paragraph);
    while (m.find()) {
      out.add(m.group());
    }
    return out;
  }

  /** Puts a blank line before each {@code <p>}, {@code <ul>} and the first block tag, as hand-written Javadoc has. */
  private static String blankLinesBeforeParagraphs(String s) {
    String[] lines = s.split("\n", -1);
    StringBuilder out = new StringBuilder();
    boolean seenTag = false;
    for (int i = 0; i < lines.length; i++) {
      String l = lines[i];
      boolean tag = l.startsWith("@");
      boolean block = l.startsWith("<p>") || l.startsWith("<ul>") || (tag && !seenTag);
      seenTag |= tag;
      if (block && out.length() > 0 && !out.toString().endsWith("\n\n")) {
        out.append('\n');
      }
      out.append(l);
      if (i + 1 < lines.length) {
        out.append('\n');
      }
    }
    String r = out.toString();
    return r.replaceAll("\n{3,}", "\n\n");
  }
}
