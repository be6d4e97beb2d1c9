package org.twicing.models.training;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.twicing.codegen.importer.ForeignModel;
import org.twicing.codegen.importer.ImportedModel;
import org.twicing.codegen.importer.OnnxImporter;
import org.twicing.codegen.passes.TwicingRewrite;

/**
 * A model given as an ONNX file ({@code --onnx FILE [--logits NAME] [--frozen REGEX]}) rather than a preset. Runs
 * record it in place of the preset name as {@code onnx:PATH?logits=NAME&frozen=REGEX&attention=KIND} (components
 * URL-encoded), so
 * that {@code --resume}, {@code eval} and {@code predict} re-import the same file; the file's SHA-256 is part of
 * the model's configuration, so a changed file is refused when resuming.
 *
 * @param file the ONNX file (absolute)
 * @param logits the output trained as logits, or null for the only float output
 * @param frozen the regular expression of frozen initializers, or null
 * @param attention {@code twicing} to rewrite the model's softmax attention into twicing on loading
 *     ({@link TwicingRewrite}), {@code softmax} or null to keep it
 */
public record ForeignModelSpec(Path file, String logits, String frozen, String attention) {
  /** The model configuration entry that reports the {@code --attention} rewrite. */
  public static final String ATTENTION_KEY = "attention";
  /** The prefix of an encoded spec. */
  public static final String SCHEME = "onnx:";

  /** Makes the path absolute and checks the pattern and the attention kind, naming the option at fault. */
  public ForeignModelSpec {
    file = file.toAbsolutePath().normalize();
    if (attention != null) {
      TwicingRewrite.Mode.parse(attention);
    }
    if (frozen != null) {
      try {
        Pattern.compile(frozen);
      } catch (PatternSyntaxException e) {
        throw new IllegalArgumentException("--frozen '" + frozen + "' is not a regular expression: "
            + e.getDescription());
      }
    }
  }

  /** A spec that keeps the model's attention as it is. */
  public ForeignModelSpec(Path file, String logits, String frozen) {
    this(file, logits, frozen, null);
  }

  /** This spec with {@code --attention} set ({@code softmax}, {@code twicing} or null). */
  public ForeignModelSpec withAttention(String kind) {
    return new ForeignModelSpec(file, logits, frozen, kind);
  }

  /** Whether a run's model string names an ONNX file. */
  public static boolean isSpec(String model) {
    return model != null && model.startsWith(SCHEME);
  }

  /** The run's model string. */
  public String encode() {
    StringBuilder sb = new StringBuilder(SCHEME).append(enc(file.toString()));
    String sep = "?";
    if (logits != null) {
      sb.append(sep).append("logits=").append(enc(logits));
      sep = "&";
    }
    if (frozen != null) {
      sb.append(sep).append("frozen=").append(enc(frozen));
      sep = "&";
    }
    if (attention != null) {
      sb.append(sep).append("attention=").append(enc(attention));
    }
    return sb.toString();
  }

  /** Reads {@link #encode()}'s output. */
  public static ForeignModelSpec parse(String model) {
    if (!isSpec(model)) {
      throw new IllegalArgumentException("'" + model + "' does not start with " + SCHEME);
    }
    String rest = model.substring(SCHEME.length());
    int q = rest.indexOf('?');
    String path = dec(q < 0 ? rest : rest.substring(0, q));
    String logits = null;
    String frozen = null;
    String attention = null;
    if (q >= 0) {
      for (String kv : rest.substring(q + 1).split("&")) {
        int eq = kv.indexOf('=');
        String k = eq < 0 ? kv : kv.substring(0, eq);
        String v = eq < 0 ? "" : dec(kv.substring(eq + 1));
        switch (k) {
          case "logits" -> logits = v;
          case "frozen" -> frozen = v;
          case "attention" -> attention = v;
          default -> throw new IllegalArgumentException("'" + model + "': unknown setting '" + k + "'");
        }
      }
    }
    return new ForeignModelSpec(Path.of(path), logits, frozen, attention);
  }

  /**
   * Imports the file, rewrites its softmax attention into twicing when {@code attention} asks for it (the
   * configuration entry {@value #ATTENTION_KEY} then says what was rewritten), and wraps it for training; errors
   * name the file.
   */
  public ForeignModel load() {
    try {
      Map<String, String> description = new LinkedHashMap<>();
      description.put("sha256", sha256(file));
      ImportedModel imported = OnnxImporter.read(file);
      ForeignModel.Options options = new ForeignModel.Options(logits, frozen == null ? null : Pattern.compile(frozen));
      if (attention == null) {
        return ForeignModel.of(imported, file.getFileName().toString(), options, description);
      }
      TwicingRewrite.Result r = TwicingRewrite.apply(imported.graph(), TwicingRewrite.Mode.parse(attention));
      Map<String, String> d = new LinkedHashMap<>();
      d.put("producer", imported.producer());
      d.put("opset", Long.toString(imported.opset()));
      d.putAll(description);
      d.put(ATTENTION_KEY, r.sites() == 0 ? "softmax (kept)" : r.summary());
      return ForeignModel.of(r.graph(), file.getFileName().toString(), options, d);
    } catch (NoSuchFileException e) {
      throw new UncheckedIOException(file + ": no such file", e);
    } catch (IOException e) {
      String msg = String.valueOf(e.getMessage());
      throw new UncheckedIOException(msg.contains(file.toString()) ? msg : file + ": " + msg, e);
    } catch (IllegalArgumentException e) {
      throw e.getMessage() != null && e.getMessage().contains(file.toString()) ? e
          : new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** A name for run directories: the file name without {@code .onnx}. */
  public String shortName() {
    String n = file.getFileName().toString();
    return n.endsWith(".onnx") ? n.substring(0, n.length() - 5) : n;
  }

  private static String sha256(Path f) throws IOException {
    try (InputStream in = Files.newInputStream(f)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0;) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private static String dec(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }
}
