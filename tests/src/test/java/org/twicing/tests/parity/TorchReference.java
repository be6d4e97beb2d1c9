package org.twicing.tests.parity;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.types.Tensor;
import org.twicing.tests.support.References;

/**
 * The independent PyTorch reference ({@code src/test/python/torch_reference.py}, run with Debian's
 * {@code /usr/bin/python3}) as a service for the parity tests.
 *
 * <p>Importing torch costs several seconds, so one Python process is started lazily per JVM and kept for all
 * test classes: it imports the script once and then runs the script's own {@code main(argv)} for each job sent
 * on its stdin (one JSON argv list per line), answering with a marker line carrying the exit status. Each job
 * writes its config, weights and inputs to a fresh temporary directory and reads the script's safetensors
 * output back. Jobs run one after another on a single background thread, so a test can submit its reference job
 * first and compute the ONNX Runtime side while Python works.
 */
public final class TorchReference {
  /** The interpreter that has torch 1.13 (never a plain {@code python3} from PATH). */
  public static final String PYTHON = "/usr/bin/python3";
  /** The scripts' folder, relative to the tests module basedir (Surefire's working directory). */
  public static final Path SCRIPT_DIR = Path.of("src/test/python");

  private static final String READY = "@@twicing-ready";
  private static final String DONE = "@@twicing-done ";
  private static final String UNAVAILABLE = "@@twicing-unavailable ";
  private static final long JOB_TIMEOUT_S = 300;

  private static final String SERVER = String.join("\n",
      "import json, os, sys, traceback",
      "sys.path.insert(0, sys.argv[1])",
      "try:",
      "    import numpy, torch",
      "except ImportError as e:",
      "    print('" + UNAVAILABLE + "%r' % (e,), flush=True)",
      "    sys.exit(3)",
      "import torch_reference",
      "print('" + READY + " torch ' + torch_reference.torch.__version__, flush=True)",
      "for line in sys.stdin:",
      "    if not line.strip():",
      "        continue",
      "    argv = json.loads(line)",
      "    try:",
      "        rc = torch_reference.main(argv)",
      "    except SystemExit as e:",
      "        rc = e.code if isinstance(e.code, int) else 1",
      "    except BaseException:",
      "        traceback.print_exc()",
      "        rc = 1",
      "    sys.stderr.flush()",
      "    print('" + DONE + "%d' % (rc or 0), flush=True)",
      "");

  private static TorchReference instance;
  private static String unavailableReason;

  private final Process process;
  private final BufferedReader out;
  private final BufferedWriter in;
  private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "torch-reference");
    t.setDaemon(true);
    return t;
  });
  private final String version;

  private TorchReference(Process process, BufferedReader out, BufferedWriter in, String version) {
    this.process = process;
    this.out = out;
    this.in = in;
    this.version = version;
  }

  /**
   * The shared reference, started on first use. Only when {@value #PYTHON} is missing or cannot import torch or
   * numpy (an ImportError) does it skip the calling test, and under {@link References#required()} it fails it
   * instead; a missing script, any other error while starting (for example in the reference script itself) or a
   * job that does not answer within {@value #JOB_TIMEOUT_S} s fails the test.
   */
  public static synchronized TorchReference get() {
    Path script = SCRIPT_DIR.resolve("torch_reference.py");
    if (!Files.isRegularFile(script)) {
      throw new AssertionError(script.toAbsolutePath() + " does not exist (the tests run in the tests module)");
    }
    if (instance == null && unavailableReason == null) {
      if (!Files.isExecutable(Path.of(PYTHON))) {
        unavailableReason = PYTHON + " is not installed";
      } else {
        try {
          instance = start();
        } catch (IOException e) {
          throw new AssertionError("could not start the PyTorch reference: " + e.getMessage(), e);
        }
      }
    }
    References.assume(instance != null, () -> "PyTorch reference unavailable: " + unavailableReason);
    return instance;
  }

  /**
   * Starts the server; null (with {@link #unavailableReason} set) only when importing torch or numpy raises
   * ImportError. Any other start failure (e.g. an error in the reference script itself) is an IOException.
   */
  private static TorchReference start() throws IOException {
    ProcessBuilder pb = new ProcessBuilder(PYTHON, "-u", "-c", SERVER, SCRIPT_DIR.toAbsolutePath().toString());
    pb.redirectErrorStream(true);
    Process p = pb.start();
    BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    BufferedWriter w = new BufferedWriter(new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8));
    StringBuilder log = new StringBuilder();
    String line;
    while ((line = r.readLine()) != null) {
      if (line.startsWith(READY)) {
        TorchReference ref = new TorchReference(p, r, w, line.substring(READY.length()).trim());
        Runtime.getRuntime().addShutdownHook(new Thread(ref::stop));
        return ref;
      }
      if (line.startsWith(UNAVAILABLE)) {
        unavailableReason = PYTHON + " cannot import torch: "
            + line.substring(UNAVAILABLE.length()).trim();
        p.destroy();
        return null;
      }
      log.append(line).append('\n');
    }
    p.destroy();
    throw new IOException(PYTHON + " exited before the reference was ready: " + log.toString().trim());
  }

  /** Version string reported by the Python side ("torch 1.13..."). */
  public String version() {
    return version;
  }

  /**
   * Submits one run of the script: {@code mode} (forward, grads, adamw) on {@code configJson} with
   * {@code weights} and {@code inputs}, in float64, plus {@code extraArgs} (e.g. "--label-smoothing", "0.1").
   * The future yields every output tensor of the script (float64) by name.
   */
  public Future<Map<String, Tensor>> submit(String configJson, Map<String, Tensor> weights,
      Map<String, Tensor> inputs, String mode, String... extraArgs) {
    return worker.submit(() -> runNow(configJson, weights, inputs, null, mode, extraArgs));
  }

  /**
   * {@link #submit} for a config with dropout: the script applies {@code dropoutMasks} ("dropout.0", ... as 0/1
   * tensors, in the order the model applies dropout) through {@code --dropout-masks}.
   */
  public Future<Map<String, Tensor>> submitWithDropoutMasks(String configJson, Map<String, Tensor> weights,
      Map<String, Tensor> inputs, Map<String, Tensor> dropoutMasks, String mode, String... extraArgs) {
    return worker.submit(() -> runNow(configJson, weights, inputs, dropoutMasks, mode, extraArgs));
  }

  /** {@link #submit} and wait. */
  public Map<String, Tensor> run(String configJson, Map<String, Tensor> weights, Map<String, Tensor> inputs,
      String mode, String... extraArgs) {
    return await(submit(configJson, weights, inputs, mode, extraArgs));
  }

  /** Waits for a submitted job, rethrowing its failure as an {@link AssertionError}. */
  public static Map<String, Tensor> await(Future<Map<String, Tensor>> job) {
    try {
      return job.get(JOB_TIMEOUT_S, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof AssertionError a) {
        throw a;
      }
      throw new AssertionError("PyTorch reference failed: " + c, c);
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("PyTorch reference did not answer: " + e, e);
    }
  }

  /** A future that is already done, for tests that compute a reference some other way. */
  public static Future<Map<String, Tensor>> done(Map<String, Tensor> value) {
    return CompletableFuture.completedFuture(value);
  }

  private Map<String, Tensor> runNow(String configJson, Map<String, Tensor> weights, Map<String, Tensor> inputs,
      Map<String, Tensor> dropoutMasks, String mode, String... extraArgs) throws IOException {
    Path dir = Files.createTempDirectory("twicing-torch-");
    try {
      Path cfg = dir.resolve("config.json");
      Path w = dir.resolve("weights.safetensors");
      Path x = dir.resolve("inputs.safetensors");
      Path o = dir.resolve("out.safetensors");
      Files.writeString(cfg, configJson);
      Safetensors.write(w, weights, Map.of());
      Safetensors.write(x, inputs, Map.of());
      List<String> argv = new ArrayList<>(List.of("--config", cfg.toString(), "--weights", w.toString(),
          "--inputs", x.toString(), "--mode", mode, "--out", o.toString(), "--dtype", "float64"));
      if (dropoutMasks != null) {
        Path m = dir.resolve("masks.safetensors");
        Safetensors.write(m, dropoutMasks, Map.of());
        argv.addAll(List.of("--dropout-masks", m.toString()));
      }
      argv.addAll(Arrays.asList(extraArgs));
      StringBuilder json = new StringBuilder("[");
      for (int i = 0; i < argv.size(); i++) {
        json.append(i > 0 ? "," : "").append('"')
            .append(argv.get(i).replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
      }
      json.append("]");
      StringBuilder log = new StringBuilder();
      int rc;
      synchronized (this) {
        in.write(json.toString());
        in.newLine();
        in.flush();
        String line;
        while (true) {
          line = out.readLine();
          if (line == null) {
            throw new IOException("the PyTorch reference process died; output so far:\n" + log);
          }
          if (line.startsWith(DONE)) {
            rc = Integer.parseInt(line.substring(DONE.length()).trim());
            break;
          }
          log.append(line).append('\n');
        }
      }
      if (rc != 0) {
        throw new AssertionError("torch_reference.py " + String.join(" ", argv) + " exited with " + rc + ":\n"
            + log + "config: " + configJson);
      }
      return Safetensors.read(o).tensors();
    } finally {
      try (var files = Files.list(dir)) {
        for (Path p : (Iterable<Path>) files::iterator) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(dir);
    }
  }

  private void stop() {
    try {
      in.close();
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroy();
      }
    } catch (IOException | InterruptedException e) {
      process.destroy();
    }
  }
}
