package org.twicing.codegen.emit;

import com.google.protobuf.ByteString;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TrainingInfoProto;
import org.twicing.dsl.io.AtomicFile;

/**
 * Writes models to disk atomically (temp file, then rename), moving large initializers to an ONNX external-data
 * file beside the model when asked, or always when the model would pass protobuf's 2 GiB limit.
 */
public final class ModelWriter {
  /** Protobuf cannot serialise messages of 2 GiB or more; stay well below it. */
  static final long PROTOBUF_LIMIT = (1L << 31) - (64L << 20);
  /** Alignment of tensors in the external-data file, so they can be memory-mapped. */
  static final int ALIGN = 64;

  private ModelWriter() { }

  /** Writes {@code model} to {@code file}, inline (falls back to external data above 2 GiB). */
  public static void write(ModelProto model, Path file) throws IOException {
    write(model, file, Long.MAX_VALUE);
  }

  /**
   * Writes {@code model} to {@code file}; initializers of at least {@code externalThreshold} bytes go to
   * {@code file + ".data"} (ONNX external data, offsets aligned to 64 bytes).
   */
  public static void write(ModelProto model, Path file, long externalThreshold) throws IOException {
    write(model, file, externalThreshold, PROTOBUF_LIMIT);
  }

  /**
   * {@link #write(ModelProto, Path, long)} with {@code sizeLimit} in place of the protobuf limit: above it (the
   * initializers' bytes, training_info's included) every initializer of 1 KiB or more goes to external data. A
   * seam for tests, which cannot afford 2 GiB models to reach the automatic fallback.
   */
  public static void write(ModelProto model, Path file, long externalThreshold, long sizeLimit) throws IOException {
    long threshold = externalThreshold;
    if (estimateSize(model) > sizeLimit) {
      threshold = 1024;
    }
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    String dataName = file.getFileName() + ".data";
    AtomicFile.Staged data = null;
    try {
      ModelProto out = model;
      if (threshold != Long.MAX_VALUE) {
        long t = threshold;
        ModelProto[] built = {null};
        data = AtomicFile.stage(dir.resolve(dataName), ch -> {
          // Not closed: closing the stream would close the channel AtomicFile still forces.
          OutputStream os = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 20);
          long[] offset = {0};
          ModelProto.Builder b = model.toBuilder();
          b.setGraph(externalize(model.getGraph(), t, dataName, os, offset));
          for (int i = 0; i < b.getTrainingInfoCount(); i++) {
            TrainingInfoProto.Builder ti = b.getTrainingInfo(i).toBuilder();
            if (ti.hasAlgorithm()) {
              ti.setAlgorithm(externalize(ti.getAlgorithm(), t, dataName, os, offset));
            }
            b.setTrainingInfo(i, ti);
          }
          os.flush();
          built[0] = b.build();
        });
        out = built[0];
      }
      ModelProto proto = out;
      // Both files are complete before either is renamed, so a reader never pairs a model with another's data.
      try (AtomicFile.Staged modelFile = AtomicFile.stage(file, ch -> {
        OutputStream os = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 20);
        proto.writeTo(os);
        os.flush();
      })) {
        if (data != null) {
          data.commit();
        }
        modelFile.commit();
      }
    } finally {
      if (data != null) {
        data.close();
      }
    }
  }

  private static long estimateSize(ModelProto model) {
    long n = 0;
    for (TensorProto t : model.getGraph().getInitializerList()) {
      n += t.getRawData().size();
    }
    for (TrainingInfoProto ti : model.getTrainingInfoList()) {
      for (TensorProto t : ti.getAlgorithm().getInitializerList()) {
        n += t.getRawData().size();
      }
    }
    return n;
  }

  private static GraphProto externalize(GraphProto g, long threshold, String location, OutputStream os,
      long[] offset) throws IOException {
    GraphProto.Builder b = g.toBuilder();
    for (int i = 0; i < b.getInitializerCount(); i++) {
      TensorProto t = b.getInitializer(i);
      ByteString raw = t.getRawData();
      if (raw.size() < threshold || raw.isEmpty()) {
        continue;
      }
      long pad = (ALIGN - offset[0] % ALIGN) % ALIGN;
      os.write(new byte[(int) pad]);
      offset[0] += pad;
      raw.writeTo(os);
      b.setInitializer(i, t.toBuilder().clearRawData()
          .setDataLocation(TensorProto.DataLocation.EXTERNAL)
          .addExternalData(OnnxEmitter.entry("location", location))
          .addExternalData(OnnxEmitter.entry("offset", Long.toString(offset[0])))
          .addExternalData(OnnxEmitter.entry("length", Long.toString(raw.size()))));
      offset[0] += raw.size();
    }
    return b.build();
  }
}
