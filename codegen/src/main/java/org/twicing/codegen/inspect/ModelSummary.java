package org.twicing.codegen.inspect;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import com.google.protobuf.InvalidProtocolBufferException;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.dsl.types.DType;

/**
 * What an ONNX file holds, read from any producer's file: inputs and outputs with types, opsets, an op
 * histogram, and initializer counts and bytes (external data counted from its recorded lengths).
 */
public record ModelSummary(String producer, long irVersion, Map<String, Long> opsets, List<IoInfo> inputs,
    List<IoInfo> outputs, Map<String, Integer> opHistogram, int initializerCount, long parameterCount,
    long parameterBytes, Map<String, String> metadata, int trainingInfoCount) {

  /** One graph input or output: name, element type and dims (symbols or sizes). */
  public record IoInfo(String name, String dtype, List<String> dims) {
    @Override
    public String toString() {
      return name + " " + dtype + dims;
    }
  }

  /** Reads and summarises an ONNX file; errors name the file. */
  public static ModelSummary read(Path file) throws IOException {
    return of(readModel(file));
  }

  /** Parses an ONNX file (without loading external data). */
  public static ModelProto readModel(Path file) throws IOException {
    if (!Files.exists(file)) {
      throw new NoSuchFileException(file.toString(), null, "ONNX model file not found");
    }
    try (InputStream in = Files.newInputStream(file)) {
      ModelProto m = ModelProto.parseFrom(in);
      if (!m.hasGraph()) {
        throw new IOException(file + " is not an ONNX model: it has no graph");
      }
      return m;
    } catch (InvalidProtocolBufferException e) {
      throw new IOException(file + " is not a valid ONNX model (protobuf parse failed: " + e.getMessage() + ")", e);
    }
  }

  /** Summarises a parsed model. */
  public static ModelSummary of(ModelProto m) {
    GraphProto g = m.getGraph();
    Map<String, Long> opsets = new TreeMap<>();
    for (OperatorSetIdProto o : m.getOpsetImportList()) {
      opsets.put(o.getDomain().isEmpty() ? "ai.onnx" : o.getDomain(), o.getVersion());
    }
    Set<String> inits = new HashSet<>();
    long params = 0;
    long bytes = 0;
    for (TensorProto t : g.getInitializerList()) {
      inits.add(t.getName());
      long n = 1;
      for (long d : t.getDimsList()) {
        n *= d;
      }
      params += n;
      bytes += tensorBytes(t, n);
    }
    List<IoInfo> inputs = new ArrayList<>();
    for (ValueInfoProto v : g.getInputList()) {
      if (!inits.contains(v.getName())) {
        inputs.add(io(v));
      }
    }
    List<IoInfo> outputs = new ArrayList<>();
    for (ValueInfoProto v : g.getOutputList()) {
      outputs.add(io(v));
    }
    Map<String, Integer> hist = new TreeMap<>();
    countOps(g, hist);
    Map<String, String> meta = new TreeMap<>();
    for (StringStringEntryProto e : m.getMetadataPropsList()) {
      meta.put(e.getKey(), e.getValue());
    }
    return new ModelSummary(m.getProducerName() + (m.getProducerVersion().isEmpty() ? "" : " "
        + m.getProducerVersion()), m.getIrVersion(), opsets, inputs, outputs, hist, g.getInitializerCount(),
        params, bytes, meta, m.getTrainingInfoCount());
  }

  private static void countOps(GraphProto g, Map<String, Integer> hist) {
    for (NodeProto n : g.getNodeList()) {
      String key = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx") ? n.getOpType()
          : n.getDomain() + "." + n.getOpType();
      hist.merge(key, 1, Integer::sum);
      n.getAttributeList().forEach(a -> {
        if (a.hasG()) {
          countOps(a.getG(), hist);
        }
        a.getGraphsList().forEach(sub -> countOps(sub, hist));
      });
    }
  }

  private static long tensorBytes(TensorProto t, long n) {
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      for (StringStringEntryProto e : t.getExternalDataList()) {
        if (e.getKey().equals("length")) {
          return Long.parseLong(e.getValue());
        }
      }
    }
    if (!t.getRawData().isEmpty()) {
      return t.getRawData().size();
    }
    try {
      return n * DType.fromOnnxCode(t.getDataType()).byteSize();
    } catch (IllegalArgumentException e) {
      return 0;
    }
  }

  private static IoInfo io(ValueInfoProto v) {
    String dtype;
    List<String> dims = new ArrayList<>();
    if (v.getType().hasTensorType()) {
      int code = v.getType().getTensorType().getElemType();
      try {
        dtype = DType.fromOnnxCode(code).toString();
      } catch (IllegalArgumentException e) {
        dtype = "type" + code;
      }
      for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) {
        dims.add(d.hasDimValue() ? Long.toString(d.getDimValue()) : d.hasDimParam() ? d.getDimParam() : "?");
      }
    } else {
      dtype = "non-tensor";
    }
    return new IoInfo(v.getName(), dtype, dims);
  }

  /** A human-readable multi-line report, as printed by {@code twicing inspect}. */
  public String format() {
    StringBuilder sb = new StringBuilder();
    sb.append("producer:   ").append(producer.isBlank() ? "(unknown)" : producer).append('\n');
    sb.append("ir_version: ").append(irVersion).append('\n');
    sb.append("opsets:     ").append(opsets).append('\n');
    sb.append("inputs:\n");
    inputs.forEach(i -> sb.append("  ").append(i).append('\n'));
    sb.append("outputs:\n");
    outputs.forEach(o -> sb.append("  ").append(o).append('\n'));
    sb.append(String.format("parameters: %,d in %d initializers (%,d bytes)%n", parameterCount, initializerCount,
        parameterBytes));
    if (trainingInfoCount > 0) {
      sb.append("training_info: ").append(trainingInfoCount).append(" algorithm(s)\n");
    }
    sb.append("ops (").append(opHistogram.values().stream().mapToInt(Integer::intValue).sum()).append(" nodes):\n");
    opHistogram.forEach((k, v) -> sb.append(String.format("  %-22s %d%n", k, v)));
    if (!metadata.isEmpty()) {
      sb.append("metadata:\n");
      metadata.forEach((k, v) -> sb.append("  ").append(k).append(" = ").append(v).append('\n'));
    }
    return sb.toString();
  }
}
