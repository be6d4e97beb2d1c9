package org.twicing.models.web;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.graphs.DecodeGraph;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.io.AtomicDirectory;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.LabeledImages;

/**
 * Writes the static site of {@code twicing export-web}: the page built from {@code web/} (index.html, app.js with
 * onnxruntime-web bundled in, ONNX Runtime's .wasm and .mjs), the run's graphs and a manifest the page reads.
 * Image runs get model.onnx, train_step.onnx, forward.onnx (the inference graph with parameters as inputs, for
 * predictions after fine-tuning), params.bin and samples.bin; language-model runs get decode.onnx. Everything is
 * written into a temporary sibling directory, then renamed into place, so a failed export leaves nothing half-made.
 */
public final class WebSite {
  /** The manifest the page reads first. */
  public static final String MANIFEST = "manifest.json";
  /** The inference graph with parameters as inputs. */
  public static final String FORWARD = "forward.onnx";
  /** Concatenated float32 (little-endian) parameters, in the manifest's order. */
  public static final String PARAMS = "params.bin";
  /** The sample images, normalised float32 [count, C, H, W]. */
  public static final String SAMPLES = "samples.bin";
  /** Files the built page must contain ({@code web/dist}). */
  public static final List<String> PAGE_FILES = List.of("index.html", "app.js", "style.css",
      "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs");

  /** The settings of one export. */
  public record Options(int samples, int fineTuneBatch, double fineTuneLr, String prompt) { }

  private WebSite() { }

  /**
   * Exports an image run: {@code model} with {@code weights} (the run's checkpoint), its training settings'
   * {@code spec}, the run's {@code modelFile} (copied as model.onnx) and the first samples of {@code test}.
   */
  public static void exportImage(Path page, Path out, String name, TaskModel model, StateDict weights,
      TrainingSpec spec, Path modelFile, LabeledImages test, Options o) throws IOException {
    if (o.samples() < 1 || o.fineTuneBatch() < 1 || o.fineTuneBatch() > o.samples()) {
      throw new IllegalArgumentException("need 1 <= fine-tune batch (" + o.fineTuneBatch() + ") <= samples ("
          + o.samples() + ")");
    }
    int n = Math.min(o.samples(), test.size());
    int fineTuneBatch = Math.min(o.fineTuneBatch(), n);
    writeAtomically(page, out, dir -> {
      EmitOptions asInputs = EmitOptions.defaults().toBuilder().parametersAsInputs(true).build();
      Files.copy(modelFile, dir.resolve(ModelArtifacts.MODEL));
      Graph step = TrainingGraphs.trainStep(model, weights, spec);
      ModelWriter.write(OnnxEmitter.emit(step, asInputs), dir.resolve(ModelArtifacts.TRAIN_STEP));
      ModelWriter.write(OnnxEmitter.emit(InferenceGraph.build(model, weights), asInputs), dir.resolve(FORWARD));
      Map<String, Tensor> params = weights.asMap();
      List<Map<String, Object>> tensors = new ArrayList<>();
      long offset = 0;
      for (Map.Entry<String, Tensor> e : params.entrySet()) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("name", e.getKey());
        t.put("shape", e.getValue().shape());
        t.put("offset", offset);
        t.put("length", e.getValue().size());
        offset += e.getValue().size();
        tensors.add(t);
      }
      ByteBuffer pb = ByteBuffer.allocate(Math.toIntExact(offset * 4)).order(ByteOrder.LITTLE_ENDIAN);
      params.values().forEach(t -> {
        for (float f : t.toFloats()) {
          pb.putFloat(f);
        }
      });
      Files.write(dir.resolve(PARAMS), pb.array());
      List<Map<String, Object>> state = new ArrayList<>();
      for (Value in : step.inputs()) {
        String nm = in.name();
        if (!params.containsKey(nm) && !nm.equals(model.inputName()) && !nm.equals(TrainingGraphs.LABELS)
            && !nm.equals(TrainingGraphs.LR) && !nm.equals(TrainingGraphs.STEP)) {
          Map<String, Object> s = new LinkedHashMap<>();
          s.put("name", nm);
          s.put("shape", params.get(stateOwner(nm, params)).shape());
          state.add(s);
        }
      }
      int per = test.pixelsPerImage();
      float[] x = new float[n * per];
      long[] labels = new long[n];
      for (int i = 0; i < n; i++) {
        test.copyNormalizedImage(i, x, i * per);
        labels[i] = test.label(i);
      }
      ByteBuffer sb = ByteBuffer.allocate(x.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (float f : x) {
        sb.putFloat(f);
      }
      Files.write(dir.resolve(SAMPLES), sb.array());
      long[] imageShape = test.imageShape();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kind", "image");
      m.put("name", name);
      m.put("description", model.name() + " with " + model.attentionKinds().size() + " attention layers ("
          + model.attentionKinds().get(0).name() + "), " + n + " sample images");
      m.put("model", ModelArtifacts.MODEL);
      m.put("trainStep", ModelArtifacts.TRAIN_STEP);
      m.put("forward", FORWARD);
      m.put("input", model.inputName());
      m.put("labels", TrainingGraphs.LABELS);
      m.put("output", "logits");
      m.put("classes", model.classes() == FashionMnist.NUM_CLASSES ? FashionMnist.CLASS_NAMES : List.of());
      m.put("params", Map.of("file", PARAMS, "tensors", tensors));
      m.put("state", state);
      m.put("samples", Map.of("file", SAMPLES, "count", n, "shape", Arrays.copyOfRange(imageShape, 1,
          imageShape.length), "labels", labels, "mean", test.mean(), "std", test.std()));
      m.put("fineTune", Map.of("batch", fineTuneBatch, "lr", o.fineTuneLr()));
      writeManifest(dir, m);
    });
  }

  /** Exports a language-model run: decode.onnx with the run's weights, for generation in the page. */
  public static void exportText(Path page, Path out, String name, Gpt model, StateDict weights, Options o)
      throws IOException {
    if (!model.supportsCachedDecoding()) {
      throw new IllegalArgumentException(name + ": this language model's attention kinds have no exact cached "
          + "decoding (decode.onnx), which the page needs");
    }
    writeAtomically(page, out, dir -> {
      Graph decode = DecodeGraph.build(model, weights);
      ModelWriter.write(OnnxEmitter.emit(decode, EmitOptions.defaults()), dir.resolve(ModelArtifacts.DECODE));
      List<Map<String, Object>> cache = new ArrayList<>();
      for (Value in : decode.inputs()) {
        if (in.name().startsWith("past.")) {
          Map<String, Object> c = new LinkedHashMap<>();
          c.put("past", in.name());
          c.put("present", "present." + in.name().substring("past.".length()));
          c.put("heads", in.shape().dims().get(1).size());
          c.put("headDim", in.shape().dims().get(3).size());
          cache.add(c);
        }
      }
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kind", "text");
      m.put("name", name);
      m.put("description", model.name() + " byte-level language model, attention " + model.attentionKinds().stream()
          .map(k -> k.name()).toList());
      m.put("decode", ModelArtifacts.DECODE);
      m.put("context", model.cfg().context());
      m.put("vocab", model.cfg().vocab());
      m.put("cache", cache);
      m.put("prompt", o.prompt());
      writeManifest(dir, m);
    });
  }

  /** The parameter an optimizer-state input belongs to ({@code blocks.0.attn.qkv.weight.exp_avg} → its param). */
  private static String stateOwner(String stateName, Map<String, Tensor> params) {
    int dot = stateName.lastIndexOf('.');
    String owner = dot < 0 ? stateName : stateName.substring(0, dot);
    if (!params.containsKey(owner)) {
      throw new IllegalStateException("train_step input '" + stateName + "' is neither a parameter nor the state "
          + "of one");
    }
    return owner;
  }

  private static void writeManifest(Path dir, Map<String, Object> m) throws IOException {
    String json = new GsonBuilder().setPrettyPrinting().create().toJson(m);
    Files.writeString(dir.resolve(MANIFEST), json + "\n", StandardCharsets.UTF_8);
  }

  /** Copies the page, then lets {@code body} write the rest, into a directory created atomically. */
  private static void writeAtomically(Path page, Path out, AtomicDirectory.Content body) throws IOException {
    for (String f : PAGE_FILES) {
      if (!Files.isRegularFile(page.resolve(f))) {
        throw new NoSuchFileException(page.resolve(f).toString(), null, "the web page is not built: run 'npm ci &&"
            + " npm run build' in web/ (bash .ci/run does), or pass --web-dist DIR");
      }
    }
    AtomicDirectory.create(out, dir -> {
      for (String f : PAGE_FILES) {
        Files.copy(page.resolve(f), dir.resolve(f));
      }
      body.writeTo(dir);
    });
  }
}
