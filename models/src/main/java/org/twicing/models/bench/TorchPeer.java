package org.twicing.models.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A running PyTorch peer ({@code tests/src/test/python/bench_torch.py}) that times the same model, batch and
 * threads as ours, in eager mode and under {@code torch.compile}, one command at a time so that callers can
 * alternate its runs with their own.
 */
public final class TorchPeer implements AutoCloseable {

  /** Which python runs the peer and why it was chosen. */
  public record Interpreter(Path python, String chosenBy) {
    /** One line for reports: the path and the reason. */
    @Override
    public String toString() {
      return python + " (" + chosenBy + ")";
    }
  }

  private final Process process;
  private final BufferedReader in;
  private final Writer out;
  private final String version;
  private final List<String> variants;
  private final List<String> notes;

  private TorchPeer(Process process, BufferedReader in, Writer out, String version, List<String> variants,
      List<String> notes) {
    this.process = process;
    this.in = in;
    this.out = out;
    this.version = version;
    this.variants = variants;
    this.notes = notes;
  }

  /**
   * The interpreter to run the peer with: {@code explicit} if given, else {@code $TWICING_PYTHON}, else the
   * checkout's venv {@code HOME/V/bin/python} (where a current PyTorch is installed with pip), else Debian's
   * {@code /usr/bin/python3}.
   */
  public static Interpreter findPython(Path explicit, Map<String, String> env, Path home) {
    if (explicit != null) {
      return new Interpreter(explicit, "--python");
    }
    String fromEnv = env.get("TWICING_PYTHON");
    if (fromEnv != null && !fromEnv.isBlank()) {
      return new Interpreter(Path.of(fromEnv), "$TWICING_PYTHON");
    }
    Path venv = home.resolve("V").resolve("bin").resolve("python");
    if (Files.isExecutable(venv)) {
      return new Interpreter(venv, "the checkout's venv V/");
    }
    return new Interpreter(Path.of("/usr/bin/python3"), "Debian's python3-torch: no venv V/ in the checkout");
  }

  /**
   * Starts the peer for one model and waits until it has warmed up (and compiled) every variant it can.
   *
   * @param task {@code train} (forward, loss, backward, AdamW) or {@code infer} (forward in eval mode)
   */
  public static TorchPeer start(Interpreter python, Path script, String configJson, int batch, int threads,
      String task) throws IOException {
    if (!Files.exists(script)) {
      throw new IOException("the PyTorch peer script " + script + " does not exist (run from a twicing checkout)");
    }
    Process p = new ProcessBuilder(python.python().toString(), script.toString(), configJson,
        Integer.toString(batch), Integer.toString(threads), task)
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    Writer out = new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8);
    List<String> notes = new ArrayList<>();
    for (String line; (line = in.readLine()) != null;) {
      if (line.startsWith("note ")) {
        notes.add(line.substring(5));
      } else if (line.startsWith("ready ")) {
        // "ready torch <version> variants <a,b>"
        String[] f = line.split(" ");
        if (f.length != 5) {
          break;
        }
        return new TorchPeer(p, in, out, f[2], List.of(f[4].split(",")), List.copyOf(notes));
      } else if (line.startsWith("error ")) {
        p.destroyForcibly();
        throw new IOException("the PyTorch peer (" + python + " " + script + ") failed: " + line.substring(6));
      }
    }
    p.destroyForcibly();
    throw new IOException("the PyTorch peer (" + python + " " + script + ") exited before it was ready"
        + (notes.isEmpty() ? "" : ": " + notes));
  }

  /** PyTorch's version string, e.g. {@code 2.13.0+cpu}. */
  public String version() {
    return version;
  }

  /** The variants this peer can time: {@code eager}, and {@code compile} where torch.compile worked. */
  public List<String> variants() {
    return variants;
  }

  /** What the peer reported while starting (e.g. why torch.compile is unavailable). */
  public List<String> notes() {
    return notes;
  }

  /** Times {@code n} runs of {@code variant}, in milliseconds each. */
  public double[] run(String variant, int n) throws IOException {
    if (!variants.contains(variant)) {
      throw new IllegalArgumentException("the PyTorch peer has no variant '" + variant + "'; it has " + variants);
    }
    out.write("run " + variant + " " + n + "\n");
    out.flush();
    String line = in.readLine();
    if (line == null || !line.startsWith("times " + variant + " ")) {
      throw new IOException("the PyTorch peer answered '" + line + "' to 'run " + variant + " " + n + "'");
    }
    String[] f = line.substring(("times " + variant + " ").length()).trim().split(" ");
    double[] ms = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      ms[i] = Double.parseDouble(f[i]);
    }
    return ms;
  }

  /** Asks the peer to quit and waits briefly; kills it if it does not. */
  @Override
  public void close() {
    try {
      out.write("quit\n");
      out.flush();
    } catch (IOException e) {
      // already gone: nothing to tell it
    }
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
