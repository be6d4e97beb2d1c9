package org.twicing.tests.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.FashionMnistSubset;
import org.twicing.models.web.WebServer;
import org.twicing.models.web.WebSite;
import org.twicing.tests.support.OrtRunner;

/**
 * {@code twicing export-web} in a real browser: Debian's Chromium, headless, driven by playwright-core
 * ({@code web/test/browser.mjs}). The page's prediction for a fixed image must equal ONNX Runtime for Java's
 * logits, its 5 in-page training steps the Java chain of train_step.onnx on the same batch (both relative 1e-4),
 * and its greedy generation through decode.onnx the bytes of {@code twicing predict --prompt}. Needs node, the
 * built page (web/dist) and /usr/bin/chromium, which {@code bash .ci/run} installs; without them the test fails.
 */
class WebExportBrowserTest {
  static final Path WEB = Path.of("..", "web").toAbsolutePath().normalize();
  static final Path SCREENSHOT = Path.of("target", "web-export.png").toAbsolutePath();

  @TempDir
  static Path tmp;

  @BeforeAll
  static void prerequisites() throws IOException, InterruptedException {
    for (String f : WebSite.PAGE_FILES) {
      if (!Files.isRegularFile(WEB.resolve("dist").resolve(f))) {
        fail("the web page is not built (" + WEB.resolve("dist").resolve(f) + " is missing): run 'npm ci && npm run "
            + "build' in web/, as bash .ci/run does");
      }
    }
    if (!Files.isDirectory(WEB.resolve("node_modules").resolve("playwright-core"))) {
      fail("playwright-core is not installed in web/node_modules: run 'npm ci' in web/, as bash .ci/run does");
    }
    String chromium = System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium");
    if (!Files.isExecutable(Path.of(chromium))) {
      fail(chromium + " is missing: apt-get install chromium, as bash .ci/run does");
    }
  }

  static TwicingCli.Captured cli(String... args) {
    return TwicingCli.capture(args);
  }

  static void ok(TwicingCli.Captured r) {
    assertEquals(0, r.code(), r.out() + r.err());
  }

  /** Runs the Playwright script against {@code site}; returns what the page computed. */
  static JsonObject browse(Path site, String... options) throws IOException, InterruptedException {
    Path out = tmp.resolve(site.getFileName() + "-browser.json");
    try (WebServer server = WebServer.start(site, 0)) {
      List<String> cmd = new ArrayList<>(List.of("node", WEB.resolve("test").resolve("browser.mjs").toString(),
          server.url(), out.toString()));
      cmd.addAll(List.of(options));
      Process p = new ProcessBuilder(cmd).directory(WEB.toFile()).redirectErrorStream(true)
          .redirectOutput(tmp.resolve(site.getFileName() + "-browser.log").toFile()).start();
      if (!p.waitFor(300, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("the browser run did not finish in 300 s; log: "
            + Files.readString(tmp.resolve(site.getFileName() + "-browser.log")));
      }
      String log = Files.readString(tmp.resolve(site.getFileName() + "-browser.log"));
      assertEquals(0, p.exitValue(), "browser script failed: " + log);
    }
    JsonObject r = JsonParser.parseString(Files.readString(out)).getAsJsonObject();
    assertTrue(r.get("ready").getAsBoolean(), "page not ready: " + r);
    assertEquals(0, r.getAsJsonArray("externalRequests").size(), "the page fetched from elsewhere: " + r);
    return r;
  }

  static Path fashionDir() throws IOException {
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    Path dir = tmp.resolve("fmnist");
    Files.createDirectories(dir);
    FashionMnistSubset.writeEvenlySpaced(bundled, 64, 32, dir);
    return dir;
  }


  static float[] floats(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    float[] f = new float[b.remaining() / 4];
    b.asFloatBuffer().get(f);
    return f;
  }

  static long[] longs(JsonArray a) {
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsLong();
    }
    return out;
  }

  static Tensor floatTensor(long[] shape, float[] data, int from) {
    double[] d = new double[(int) Tensor.numel(shape)];
    for (int i = 0; i < d.length; i++) {
      d[i] = data[from + i];
    }
    return new Tensor(DType.FLOAT32, shape, d);
  }

  /** max |a − b| / max |b|: the relative error of a vector against its reference. */
  static double relative(double[] a, double[] ref) {
    double diff = 0;
    double scale = 0;
    for (int i = 0; i < ref.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    return diff / scale;
  }

  static double[] doubles(JsonArray a) {
    double[] d = new double[a.size()];
    for (int i = 0; i < d.length; i++) {
      d[i] = a.get(i).getAsDouble();
    }
    return d;
  }

  @Test
  void imageRunPredictsAndFineTunesLikeJava() throws Exception {
    Path data = fashionDir();
    Path run = tmp.resolve("vit-run");
    ok(cli("train", "--data-dir", data.toString(), "--steps", "2", "--batch", "8", "--out", run.toString(),
        "--threads", "1"));
    Path site = tmp.resolve("vit-site");
    ok(cli("export-web", "--run", run.toString(), "--out", site.toString(), "--samples", "16",
        "--fine-tune-batch", "8", "--fine-tune-lr", "1e-3", "--web-dist", WEB.resolve("dist").toString()));
    for (String f : List.of("index.html", "app.js", "ort-wasm-simd-threaded.wasm", ModelArtifacts.MODEL,
        ModelArtifacts.TRAIN_STEP, WebSite.MANIFEST, WebSite.PARAMS, WebSite.SAMPLES)) {
      assertTrue(Files.isRegularFile(site.resolve(f)), f);
    }
    JsonObject manifest = JsonParser.parseString(Files.readString(site.resolve(WebSite.MANIFEST))).getAsJsonObject();
    JsonObject samples = manifest.getAsJsonObject("samples");
    long[] imageShape = longs(samples.getAsJsonArray("shape"));
    float[] x = floats(site.resolve(WebSite.SAMPLES));
    long[] labels = longs(samples.getAsJsonArray("labels"));

    // Java's reference: the run's own model.onnx on sample 0, then 5 train_step.onnx steps chained on the first
    // 8 samples with the exported parameters and zero optimizer state.
    long[] one = new long[imageShape.length + 1];
    one[0] = 1;
    System.arraycopy(imageShape, 0, one, 1, imageShape.length);
    byte[] model = Files.readAllBytes(run.resolve(ModelArtifacts.MODEL));
    double[] javaLogits = OrtRunner.run(model, Map.of("pixels", floatTensor(one, x, 0))).get("logits").toDoubles();
    int b = 8;
    long[] batchShape = one.clone();
    batchShape[0] = b;
    Map<String, Tensor> state = new LinkedHashMap<>();
    float[] params = floats(site.resolve(WebSite.PARAMS));
    for (var e : manifest.getAsJsonObject("params").getAsJsonArray("tensors")) {
      JsonObject t = e.getAsJsonObject();
      state.put(t.get("name").getAsString(), floatTensor(longs(t.getAsJsonArray("shape")), params,
          t.get("offset").getAsInt()));
    }
    for (var e : manifest.getAsJsonArray("state")) {
      JsonObject t = e.getAsJsonObject();
      state.put(t.get("name").getAsString(), Tensor.zeros(DType.FLOAT32, longs(t.getAsJsonArray("shape"))));
    }
    byte[] step = Files.readAllBytes(site.resolve(ModelArtifacts.TRAIN_STEP));
    Tensor batch = floatTensor(batchShape, x, 0);
    Tensor y = Tensor.longs(Arrays.copyOf(labels, b));
    double[] javaLosses = new double[5];
    for (int k = 0; k < 5; k++) {
      Map<String, Tensor> feeds = new LinkedHashMap<>(state);
      feeds.put("pixels", batch);
      feeds.put("labels", y);
      feeds.put("lr", Tensor.scalar(DType.FLOAT32, 1e-3));
      feeds.put("step", Tensor.scalar(DType.INT64, k + 1));
      Map<String, Tensor> out = OrtRunner.run(step, feeds);
      javaLosses[k] = out.get("loss").get(0);
      for (String name : new ArrayList<>(state.keySet())) {
        state.put(name, out.get(name + ".next"));
      }
    }

    JsonObject page = browse(site, "--steps", "5", "--screenshot", SCREENSHOT.toString());
    assertTrue(page.getAsJsonObject("capabilities").get("simd").getAsBoolean(), page.toString());
    double[] pageLogits = doubles(page.getAsJsonArray("logits"));
    assertEquals(javaLogits.length, pageLogits.length);
    double logitError = relative(pageLogits, javaLogits);
    assertTrue(logitError <= 1e-4, "browser logits differ from Java's by " + logitError);
    double[] pageLosses = doubles(page.getAsJsonArray("losses"));
    assertEquals(5, pageLosses.length);
    for (int k = 0; k < 5; k++) {
      double rel = Math.abs(pageLosses[k] - javaLosses[k]) / Math.abs(javaLosses[k]);
      assertTrue(rel <= 1e-4, "step " + (k + 1) + ": browser loss " + pageLosses[k] + ", Java " + javaLosses[k]);
    }
    assertTrue(javaLosses[4] < javaLosses[0], "5 steps on one batch lower its loss: " + javaLosses[0] + " -> "
        + javaLosses[4]);
    // After fine-tuning the page predicts with the trained parameters (forward.onnx), no longer model.onnx's.
    assertTrue(relative(doubles(page.getAsJsonArray("logitsAfter")), javaLogits) > 1e-3, page.toString());
    assertTrue(Files.size(SCREENSHOT) > 10_000, "screenshot written to " + SCREENSHOT);
    System.out.printf("web export: page ready %d ms after navigation (page's own load %.0f ms), logits rel error "
        + "%.2e, capabilities %s%n", page.get("navigationToReadyMs").getAsLong(), page.get("loadMs").getAsDouble(),
        logitError, page.getAsJsonObject("capabilities"));
  }

  @Test
  void languageRunGeneratesThePredictBytes() throws Exception {
    Path text = tmp.resolve("corpus.txt");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 80; i++) {
      sb.append("The twicing head smooths the residual once more, line ").append(i).append(".\n");
    }
    Files.writeString(text, sb);
    Path run = tmp.resolve("lm-run");
    ok(cli("train", "--data", "text:" + text, "--steps", "3", "--batch", "4", "--out", run.toString(), "--threads",
        "1"));
    Path site = tmp.resolve("lm-site");
    ok(cli("export-web", "--run", run.toString(), "--out", site.toString(), "--prompt", "The ", "--web-dist",
        WEB.resolve("dist").toString()));
    TwicingCli.Captured predicted = cli("predict", "--run", run.toString(), "--prompt", "The ", "--temperature",
        "0", "--tokens", "24");
    ok(predicted);
    JsonObject page = browse(site, "--prompt", "The ", "--tokens", "24");
    JsonArray bytes = page.getAsJsonArray("generatedBytes");
    assertEquals(24, bytes.size(), page.toString());
    byte[] gen = new byte[bytes.size()];
    for (int i = 0; i < gen.length; i++) {
      gen[i] = (byte) bytes.get(i).getAsInt();
    }
    String expected = predicted.out().strip();
    assertEquals(expected, ("The " + new String(gen, StandardCharsets.UTF_8)).strip(),
        "the page's greedy bytes decode to predict's text");
    // Untrained bytes may be invalid UTF-8; decoders may split a bad sequence into different numbers of U+FFFD.
    assertEquals(expected.replaceAll("\uFFFD+", "\uFFFD"),
        page.get("generatedText").getAsString().strip().replaceAll("\uFFFD+", "\uFFFD"),
        "the page's Generate button shows the same text");
  }
}
