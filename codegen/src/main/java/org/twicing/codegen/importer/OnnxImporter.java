package org.twicing.codegen.importer;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.TypeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Shape;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Reads an ONNX model into our IR: graph inputs (fixed and symbolic dims), float initializers as parameters under
 * their own names, other initializers and {@code Constant} nodes as constants, and every node normalised to our
 * op forms (see {@link OpImports}), keeping the ONNX node and value names so outputs keep theirs. Opsets 13 to 21
 * of the default domain are accepted. A model with ops we lack fails once, listing all of them.
 */
public final class OnnxImporter {
  /** The oldest default-domain opset accepted. */
  public static final long MIN_OPSET = 13;
  /** The newest default-domain opset accepted. */
  public static final long MAX_OPSET = 21;

  private OnnxImporter() { }

  /** Reads {@code onnxFile}; external data is resolved relative to the file's directory. */
  public static ImportedModel read(Path onnxFile) throws IOException {
    ModelProto model;
    try (InputStream in = Files.newInputStream(onnxFile)) {
      CodedInputStream cis = CodedInputStream.newInstance(in);
      cis.setSizeLimit(Integer.MAX_VALUE);
      model = ModelProto.parseFrom(cis);
    } catch (InvalidProtocolBufferException e) {
      throw new IOException(onnxFile + " is not an ONNX model (protobuf parse failed: " + e.getMessage() + ")", e);
    }
    return fromProto(model, onnxFile.toAbsolutePath().getParent(), onnxFile.toString());
  }

  /** Imports {@code model}; external data is resolved relative to {@code externalDataDir} (may be null if none). */
  public static ImportedModel fromProto(ModelProto model, Path externalDataDir) {
    String name = model.getGraph().getName().isEmpty() ? "the model" : "model '" + model.getGraph().getName() + "'";
    return fromProto(model, externalDataDir, name);
  }

  private static ImportedModel fromProto(ModelProto model, Path dir, String what) {
    String producer = (model.getProducerName() + " " + model.getProducerVersion()).trim();
    if (producer.isEmpty()) {
      producer = "unknown producer";
    }
    long opset = -1;
    for (OperatorSetIdProto o : model.getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        opset = o.getVersion();
      }
    }
    GraphProto gp = model.getGraph();
    List<NodeProto> nodes = sorted(gp, what);
    List<UnsupportedModelException.OpUsage> missing = unsupported(nodes);
    String problem = "";
    if (opset < 0) {
      problem = "it imports no default-domain opset";
    } else if (opset < MIN_OPSET || opset > MAX_OPSET) {
      problem = "opset " + opset + " is outside the supported range " + MIN_OPSET + " to " + MAX_OPSET
          + " (re-export with an opset in that range)";
    }
    if (!missing.isEmpty() || !problem.isEmpty()) {
      throw new UnsupportedModelException(what, missing, opset, producer, problem);
    }
    Graph graph = new Build(gp, opset, dir, what).run(nodes);
    Map<String, String> meta = new LinkedHashMap<>();
    for (StringStringEntryProto e : model.getMetadataPropsList()) {
      meta.put(e.getKey(), e.getValue());
    }
    return new ImportedModel(graph.withMetadata(meta), opset, model.getProducerName(), model.getProducerVersion());
  }

  /** Every unsupported op type, with count and first node, in order of first use. */
  private static List<UnsupportedModelException.OpUsage> unsupported(List<NodeProto> nodes) {
    Map<String, int[]> counts = new LinkedHashMap<>();
    Map<String, String> first = new HashMap<>();
    for (int i = 0; i < nodes.size(); i++) {
      NodeProto n = nodes.get(i);
      String domain = n.getDomain().equals("ai.onnx") ? "" : n.getDomain();
      if (domain.isEmpty() && OpImports.supports(n.getOpType())) {
        continue;
      }
      String key = domain + "\u0000" + n.getOpType();
      counts.computeIfAbsent(key, k -> new int[1])[0]++;
      first.putIfAbsent(key, n.getName().isEmpty() ? "#" + i : n.getName());
    }
    List<UnsupportedModelException.OpUsage> out = new ArrayList<>();
    counts.forEach((k, c) -> {
      String[] parts = k.split("\u0000", 2);
      out.add(new UnsupportedModelException.OpUsage(parts[0], parts[1], c[0], first.get(k)));
    });
    return out;
  }

  /** The nodes in topological order (ONNX requires it; some writers do not keep it). */
  private static List<NodeProto> sorted(GraphProto g, String what) {
    Set<String> known = new HashSet<>();
    g.getInputList().forEach(v -> known.add(v.getName()));
    g.getInitializerList().forEach(t -> known.add(t.getName()));
    known.add("");
    List<NodeProto> pending = new ArrayList<>(g.getNodeList());
    List<NodeProto> out = new ArrayList<>();
    boolean progress = true;
    while (!pending.isEmpty() && progress) {
      progress = false;
      List<NodeProto> later = new ArrayList<>();
      for (NodeProto n : pending) {
        if (known.containsAll(n.getInputList())) {
          out.add(n);
          known.addAll(n.getOutputList());
          progress = true;
        } else {
          later.add(n);
        }
      }
      pending = later;
    }
    if (!pending.isEmpty()) {
      NodeProto n = pending.get(0);
      List<String> absent = n.getInputList().stream().filter(s -> !known.contains(s)).toList();
      throw new IllegalArgumentException(what + ": node '" + n.getName() + "' (" + n.getOpType() + ") reads "
          + absent + ", which no node, graph input or initializer produces (or the graph has a cycle)");
    }
    return out;
  }

  /** One import: the builder, the values by ONNX name, and the names read downstream. */
  private static final class Build {
    private final GraphProto gp;
    private final long opset;
    private final Path dir;
    private final String what;
    private final GraphBuilder g;
    private final Map<String, Value> values = new HashMap<>();
    private final Set<String> consumed = new HashSet<>();
    private final Set<String> nodeNames = new HashSet<>();
    private final ShapeContents shapes = new ShapeContents();

    Build(GraphProto gp, long opset, Path dir, String what) {
      this.gp = gp;
      this.opset = opset;
      this.dir = dir;
      this.what = what;
      this.g = new GraphBuilder(gp.getName().isEmpty() ? "imported" : gp.getName());
    }

    Graph run(List<NodeProto> nodes) {
      if (!gp.getDocString().isEmpty()) {
        g.docString(gp.getDocString());
      }
      Set<String> constantUse = new HashSet<>();
      for (NodeProto n : nodes) {
        for (int i = 0; i < n.getInputCount(); i++) {
          consumed.add(n.getInput(i));
          if (OpImports.constantInput(n.getOpType(), i)) {
            constantUse.add(n.getInput(i));
          }
        }
      }
      gp.getOutputList().forEach(o -> consumed.add(o.getName()));
      Map<String, TensorProto> initializers = new LinkedHashMap<>();
      gp.getInitializerList().forEach(t -> initializers.put(t.getName(), t));
      for (ValueInfoProto in : gp.getInputList()) {
        // Before IR 4, initializers were also listed as inputs; those are weights, not inputs.
        if (!initializers.containsKey(in.getName())) {
          Value v = g.input(in.getName(), type(in));
          values.put(in.getName(), v);
          shapes.addSource(v);
        }
      }
      for (TensorProto t : initializers.values()) {
        if (!consumed.contains(t.getName())) {
          continue;
        }
        Tensor value;
        try {
          value = TensorProtos.toTensor(t, dir);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(what + ": initializer: " + e.getMessage(), e);
        }
        if (value.dtype().isFloating() && !constantUse.contains(t.getName())) {
          values.put(t.getName(), g.parameter(t.getName(), value));
        } else {
          values.put(t.getName(), g.applyNamed(Ops.CONSTANT, t.getName(), List.of(),
              Attributes.of(Ops.VALUE, value), List.of(t.getName())).get(0));
        }
      }
      for (int i = 0; i < nodes.size(); i++) {
        NodeProto n = nodes.get(i);
        String nodeName = n.getName().isEmpty() || nodeNames.contains(n.getName()) ? n.getOpType() + "_" + i
            : n.getName();
        nodeNames.add(nodeName);
        NodeImport ni = new NodeImport(n, nodeName, opset, g, values, consumed, dir, shapes);
        List<Value> outs;
        try {
          outs = OpImports.apply(ni);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(what + ": " + e.getMessage(), e);
        }
        for (int k = 0; k < outs.size() && k < n.getOutputCount(); k++) {
          if (!n.getOutput(k).isEmpty() && outs.get(k) != null) {
            values.put(n.getOutput(k), outs.get(k));
            shapes.addSource(outs.get(k));
          }
        }
      }
      for (ValueInfoProto o : gp.getOutputList()) {
        Value v = values.get(o.getName());
        if (v == null) {
          throw new IllegalArgumentException(what + ": graph output '" + o.getName() + "' is not computed");
        }
        g.output(o.getName(), v);
      }
      // Folding shape arithmetic and moving axes to their form leave constants nothing reads.
      return GraphPasses.eliminateDeadCode(g.build());
    }

    private TensorType type(ValueInfoProto in) {
      TypeProto t = in.getType();
      if (!t.hasTensorType()) {
        throw new IllegalArgumentException(what + ": input '" + in.getName() + "' is not a tensor ("
            + t.getValueCase() + "); only tensor inputs are supported");
      }
      DType dtype;
      try {
        dtype = DType.fromOnnxCode(t.getTensorType().getElemType());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(what + ": input '" + in.getName() + "': " + e.getMessage(), e);
      }
      if (!t.getTensorType().hasShape()) {
        throw new IllegalArgumentException(what + ": input '" + in.getName() + "' has no shape; its rank must be"
            + " declared");
      }
      List<Dim> dims = new ArrayList<>();
      List<TensorShapeProto.Dimension> ds = t.getTensorType().getShape().getDimList();
      for (int i = 0; i < ds.size(); i++) {
        TensorShapeProto.Dimension d = ds.get(i);
        if (d.hasDimValue()) {
          dims.add(Dim.of(d.getDimValue()));
        } else if (d.hasDimParam() && !d.getDimParam().isEmpty()) {
          dims.add(Dim.parse(d.getDimParam()));
        } else {
          dims.add(Dim.sym(in.getName() + "_dim" + i));
        }
      }
      return new TensorType(dtype, Shape.of(dims));
    }
  }
}
