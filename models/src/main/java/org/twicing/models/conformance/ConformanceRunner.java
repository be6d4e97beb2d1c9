package org.twicing.models.conformance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.importer.OnnxImporter;
import org.twicing.codegen.importer.TensorProtos;
import org.twicing.codegen.importer.UnsupportedModelException;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.conformance.CaseResult.Stage;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.SessionOptionsSpec;

/**
 * Runs ONNX backend node test cases through our whole pipeline: import the case's model, evaluate it with the
 * float64 reference {@link Evaluator} and compare with ONNX's expected outputs, then re-emit it with
 * {@link OnnxEmitter}, run that in ONNX Runtime and compare again, both at the case's tolerances.
 *
 * <p>A case is <em>unsupported</em>, never failed, when it needs something we do not claim: a graph value that is
 * not a dense tensor of a {@link org.twicing.dsl.types.DType} type, an op outside our registry, a model the
 * importer rejects with {@link UnsupportedModelException}, an attribute form an op rejects with
 * {@link UnsupportedOperationException}, or a kernel ONNX Runtime's provider lacks. Every other exception and
 * every out-of-tolerance value is a failure.
 *
 * <p>One adaptation is made, and said in the pass's note: ONNX's cases feed every operand as a graph input, also
 * shapes, axes, pads and split sizes, which our importer needs constant; when it refuses one for that reason,
 * the case is run again with its integer inputs as initializers holding the same test values.
 */
public final class ConformanceRunner {
  /** The lowest opset {@link OnnxEmitter} writes; cases of older opsets are re-emitted at this one. */
  static final int MIN_EMIT_OPSET = EmitOptions.DEFAULT_OPSET;

  private final SessionOptionsSpec sessionOptions;

  /** A runner that runs re-emitted models in ONNX Runtime with {@code sessionOptions}. */
  public ConformanceRunner(SessionOptionsSpec sessionOptions) {
    this.sessionOptions = sessionOptions;
  }

  /** A runner on ONNX Runtime's CPU provider with default options. */
  public static ConformanceRunner onCpu() {
    return new ConformanceRunner(SessionOptionsSpec.defaults());
  }

  /**
   * Runs every case whose op under test {@code selected} accepts, in order, handing each result to
   * {@code progress} as it completes, and returns all results.
   */
  public List<CaseResult> runAll(List<ConformanceCase> cases, Predicate<String> selected,
      Consumer<CaseResult> progress) {
    Map<String, String> opOfCase = new HashMap<>();
    Map<ConformanceCase, ModelProto> models = new LinkedHashMap<>();
    Map<ConformanceCase, String> unreadable = new LinkedHashMap<>();
    for (ConformanceCase c : cases) {
      try {
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(c.model()));
        models.put(c, m);
        if (m.getGraph().getNodeCount() == 1) {
          opOfCase.put(c.name(), CaseModel.opUnderTest(m, null));
        }
      } catch (IOException | RuntimeException e) {
        unreadable.put(c, "cannot read " + c.model() + ": " + describe(e));
      }
    }
    List<CaseResult> out = new ArrayList<>();
    for (ConformanceCase c : cases) {
      CaseResult r;
      if (unreadable.containsKey(c)) {
        r = CaseResult.failed(c.name(), "?", Stage.READ, unreadable.get(c));
      } else {
        ModelProto m = models.get(c);
        String twin = c.name().endsWith("_expanded")
            ? opOfCase.get(c.name().substring(0, c.name().length() - "_expanded".length())) : null;
        String op = CaseModel.opUnderTest(m, twin);
        if (!selected.test(op)) {
          continue;
        }
        r = withAdaptation(run(c, m, op), c.adaptation());
      }
      out.add(r);
      progress.accept(r);
    }
    return out;
  }

  /** {@code r} with the generator's adaptation of its case added to a pass's note or a failure's detail. */
  private static CaseResult withAdaptation(CaseResult r, String adaptation) {
    if (adaptation.isEmpty() || r.status() == CaseResult.Status.UNSUPPORTED) {
      return r;
    }
    String detail = r.detail().isEmpty() ? adaptation : adaptation + "; " + r.detail();
    return new CaseResult(r.caseName(), r.op(), r.status(), r.stage(), detail);
  }

  /** Runs one case whose model is already parsed; {@code op} is the op it tests (for the result). */
  public CaseResult run(ConformanceCase c, ModelProto model, String op) {
    String name = c.name();
    // 1. Only dense tensors of our dtypes can be fed, held and compared.
    String values = CaseModel.unsupportedValues(model);
    if (values != null) {
      return CaseResult.unsupported(name, op, Stage.READ, values);
    }
    List<DataSet> dataSets;
    try {
      dataSets = readDataSets(c, model);
    } catch (UnsupportedCase u) {
      return CaseResult.unsupported(name, op, Stage.READ, u.getMessage());
    } catch (IOException | RuntimeException e) {
      return CaseResult.failed(name, op, Stage.READ, describe(e));
    }
    // 2. Import. ONNX's node cases feed every operand as a graph input, also those (shapes, axes, pads) our
    // importer needs as constants; when it refuses one, the case runs again with its integer inputs turned into
    // initializers holding the same test values, and the pass says so.
    Graph graph;
    long opset;
    String note = "";
    try {
      var imported = OnnxImporter.fromProto(model, c.dir());
      graph = imported.graph();
      opset = imported.opset();
    } catch (RuntimeException e) {
      // The importer's own list of ops it lacks, else the ops outside our registry.
      List<String> unclaimed = e instanceof UnsupportedModelException u && !u.unsupportedOps().isEmpty()
          ? u.unsupportedOps().stream().map(o -> o.domain().isEmpty() ? o.opType() : o.domain() + ":" + o.opType())
              .distinct().sorted().toList()
          : CaseModel.unclaimedOps(model);
      if (!unclaimed.isEmpty()) {
        return CaseResult.unsupported(name, op, Stage.IMPORT, "op" + (unclaimed.size() > 1 ? "s " : " ")
            + String.join(", ", unclaimed) + " not claimed");
      }
      Folded folded = needsConstant(e) ? foldIntegerInputs(model, dataSets) : null;
      if (folded == null) {
        return importRejected(name, op, e);
      }
      try {
        var imported = OnnxImporter.fromProto(folded.model(), c.dir());
        graph = imported.graph();
        opset = imported.opset();
        dataSets = folded.dataSets();
        note = "integer inputs " + String.join(", ", folded.names()) + " fed as initializers (the importer "
            + "needs them constant)";
      } catch (RuntimeException again) {
        return importRejected(name, op, e);
      }
    }
    // 3. Our float64 reference evaluator.
    final Graph imported = graph;
    for (DataSet ds : dataSets) {
      CaseResult r = check(c, op, Stage.EVALUATOR, ds, () -> Evaluator.run(imported, ds.inputs()));
      if (r != null) {
        return r;
      }
    }
    // 4. Re-emit and run in ONNX Runtime.
    byte[] emitted;
    try {
      EmitOptions options = EmitOptions.builder().opset((int) Math.max(MIN_EMIT_OPSET, opset))
          .producerVersion("conformance").build();
      emitted = OnnxEmitter.emit(graph, options).toByteArray();
    } catch (RuntimeException e) {
      return isUnsupported(e) ? CaseResult.unsupported(name, op, Stage.EMIT, describe(e))
          : CaseResult.failed(name, op, Stage.EMIT, describe(e));
    }
    try (ModelSession session = ModelSession.open(emitted, sessionOptions)) {
      for (DataSet ds : dataSets) {
        CaseResult r = check(c, op, Stage.ONNX_RUNTIME, ds, () -> session.runHost(ds.inputs()));
        if (r != null) {
          return r;
        }
      }
    } catch (RuntimeException e) {
      return ortFailure(name, op, e);
    }
    return note.isEmpty() ? CaseResult.passed(name, op) : CaseResult.passedWithNote(name, op, note);
  }

  /**
   * An import failure: unsupported when the importer or an op's shape rule refused the model with a message
   * (an {@link IllegalArgumentException}, {@link UnsupportedModelException} or
   * {@link UnsupportedOperationException}: a form we do not take, said so before anything ran), a failure when
   * it crashed (any other exception).
   */
  private static CaseResult importRejected(String name, String op, RuntimeException e) {
    return e instanceof IllegalArgumentException || isUnsupported(e)
        ? CaseResult.unsupported(name, op, Stage.IMPORT, describe(e))
        : CaseResult.failed(name, op, Stage.IMPORT, describe(e));
  }

  /**
   * Whether the importer refused an operand because it is computed at run time rather than constant (its words:
   * "must be a constant", "must be known when building"); only then are integer inputs folded.
   */
  static boolean needsConstant(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      String m = t.getMessage() == null ? "" : t.getMessage();
      if (m.contains("must be a constant") || m.contains("must be known when building")) {
        return true;
      }
    }
    return false;
  }

  /** A model whose integer graph inputs became initializers, with the data sets that no longer feed them. */
  private record Folded(ModelProto model, List<DataSet> dataSets, List<String> names) { }

  /**
   * {@code model} with each int64/int32 graph input turned into an initializer holding its test value, or null
   * when there is none or more than one data set (the values would differ between them).
   */
  private static Folded foldIntegerInputs(ModelProto model, List<DataSet> dataSets) {
    if (dataSets.size() != 1) {
      return null;
    }
    DataSet ds = dataSets.get(0);
    var graph = model.getGraph().toBuilder().clearInput();
    Map<String, Tensor> feeds = new LinkedHashMap<>(ds.inputs());
    List<String> names = new ArrayList<>();
    for (var in : model.getGraph().getInputList()) {
      int code = in.getType().getTensorType().getElemType();
      TensorProto value = ds.protos().get(in.getName());
      if (in.getType().hasTensorType() && value != null
          && (code == TensorProto.DataType.INT64_VALUE || code == TensorProto.DataType.INT32_VALUE)) {
        graph.addInitializer(value.toBuilder().setName(in.getName()));
        feeds.remove(in.getName());
        names.add("'" + in.getName() + "'");
      } else {
        graph.addInput(in);
      }
    }
    if (names.isEmpty()) {
      return null;
    }
    return new Folded(model.toBuilder().setGraph(graph).build(),
        List.of(new DataSet(ds.label(), feeds, ds.protos(), ds.outputs())), names);
  }

  /** Runs {@code stage} on one data set and compares; null when every output matches. */
  private static CaseResult check(ConformanceCase c, String op, Stage stage, DataSet ds, Computation run) {
    Map<String, Tensor> got;
    try {
      got = run.compute();
    } catch (RuntimeException e) {
      if (stage == Stage.ONNX_RUNTIME) {
        return ortFailure(c.name(), op, e);
      }
      return isUnsupported(e) ? CaseResult.unsupported(c.name(), op, stage, describe(e))
          : CaseResult.failed(c.name(), op, stage, ds.label() + ": " + describe(e));
    }
    for (Map.Entry<String, Tensor> want : ds.outputs().entrySet()) {
      Tensor actual = got.get(want.getKey());
      if (actual == null) {
        return CaseResult.failed(c.name(), op, stage, ds.label() + ": no output '" + want.getKey() + "' (got "
            + got.keySet() + ")");
      }
      Closeness close = Closeness.of(want.getValue(), actual, c.rtol(), c.atol());
      if (!close.ok()) {
        return CaseResult.failed(c.name(), op, stage, ds.label() + " output '" + want.getKey() + "': "
            + close.errors() + " (rtol " + c.rtol() + ", atol " + c.atol() + "); " + close.problem());
      }
    }
    return null;
  }

  /**
   * An ONNX Runtime error: unsupported when the provider has no kernel for an op and type (the case's own model
   * would not run either; the evaluator stage has already checked the values), otherwise a failure.
   */
  private static CaseResult ortFailure(String name, String op, RuntimeException e) {
    String msg = describe(e);
    if (msg.contains("Could not find an implementation for") || msg.contains("NOT_IMPLEMENTED")) {
      return CaseResult.unsupported(name, op, Stage.ONNX_RUNTIME, "ONNX Runtime's provider has no kernel "
          + "(the float64 evaluator matched): " + msg);
    }
    return CaseResult.failed(name, op, Stage.ONNX_RUNTIME, msg);
  }

  /** Inputs by graph input name and expected outputs by graph output name, for one test_data_set folder. */
  private record DataSet(String label, Map<String, Tensor> inputs, Map<String, TensorProto> protos,
      Map<String, Tensor> outputs) { }

  /** A computation of named outputs that may throw. */
  @FunctionalInterface
  private interface Computation {
    Map<String, Tensor> compute();
  }

  /** Thrown while reading data whose values we cannot hold. */
  private static final class UnsupportedCase extends Exception {
    private static final long serialVersionUID = 1L;

    UnsupportedCase(String message) {
      super(message);
    }
  }

  private static List<DataSet> readDataSets(ConformanceCase c, ModelProto model)
      throws IOException, UnsupportedCase {
    List<Path> dirs = c.dataSets();
    if (dirs.isEmpty()) {
      throw new IOException("case " + c.dir() + " has no test_data_set_N folder");
    }
    List<DataSet> out = new ArrayList<>();
    for (Path dir : dirs) {
      Map<String, Tensor> ins = new LinkedHashMap<>();
      Map<String, TensorProto> protos = new LinkedHashMap<>();
      Map<String, Tensor> outs = new LinkedHashMap<>();
      int nIn = count(dir, "input_");
      int nOut = count(dir, "output_");
      if (nIn > model.getGraph().getInputCount() || nOut != model.getGraph().getOutputCount()) {
        throw new IOException(dir + " has " + nIn + " inputs and " + nOut + " outputs; the model declares "
            + model.getGraph().getInputCount() + " and " + model.getGraph().getOutputCount());
      }
      for (int k = 0; k < nIn; k++) {
        String in = model.getGraph().getInput(k).getName();
        TensorProto p = TensorProto.parseFrom(Files.readAllBytes(dir.resolve("input_" + k + ".pb")));
        ins.put(in, read(c, dir.resolve("input_" + k + ".pb"), p));
        protos.put(in, p);
      }
      for (int k = 0; k < nOut; k++) {
        outs.put(model.getGraph().getOutput(k).getName(), read(c, dir.resolve("output_" + k + ".pb"),
            TensorProto.parseFrom(Files.readAllBytes(dir.resolve("output_" + k + ".pb")))));
      }
      out.add(new DataSet(dir.getFileName().toString(), ins, protos, outs));
    }
    return out;
  }

  private static Tensor read(ConformanceCase c, Path file, TensorProto p) throws IOException, UnsupportedCase {
    String why = CaseModel.unsupportedElementType(p.getDataType());
    if (why != null) {
      throw new UnsupportedCase(c.dir().relativize(file) + " is " + why);
    }
    try {
      return TensorProtos.toTensor(p, c.dir());
    } catch (RuntimeException e) {
      throw new IOException("cannot read " + file + ": " + describe(e), e);
    }
  }

  private static int count(Path dir, String prefix) throws IOException {
    try (var s = Files.list(dir)) {
      return (int) s.map(p -> p.getFileName().toString())
          .filter(n -> n.startsWith(prefix) && n.endsWith(".pb")).count();
    }
  }

  /** Whether {@code e} or a cause says the model needs something we do not claim (rather than a bug). */
  static boolean isUnsupported(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof UnsupportedModelException || t instanceof UnsupportedOperationException) {
        return true;
      }
    }
    return false;
  }

  /** One line for an exception: its type when the message alone would hide it, and the message. */
  static String describe(Throwable e) {
    String msg = e.getMessage() == null ? "" : e.getMessage().strip();
    int nl = msg.indexOf('\n');
    if (nl >= 0) {
      msg = msg.substring(0, nl).strip() + " ...";
    }
    String type = e.getClass().getSimpleName();
    return msg.isEmpty() ? type : type + ": " + msg;
  }
}
