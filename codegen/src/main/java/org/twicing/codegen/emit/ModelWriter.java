package org.twicing.codegen.emit;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TrainingInfoProto;

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
    Path dataFile = dir.resolve(dataName);
    Path tmpData = null;
    ModelProto out = model;
    if (threshold != Long.MAX_VALUE) {
      tmpData = Files.createTempFile(dir, "." + dataName, ".tmp");
      try (OutputStream os = Files.newOutputStream(tmpData)) {
        long[] offset = {0};
        ModelProto.Builder b = model.toBuilder();
        b.setGraph(externalize(model.getGraph(), threshold, dataName, os, offset));
        for (int i = 0; i < b.getTrainingInfoCount(); i++) {
          TrainingInfoProto.Builder ti = b.getTrainingInfo(i).toBuilder();
          if (ti.hasAlgorithm()) {
            ti.setAlgorithm(externalize(ti.getAlgorithm(), threshold, dataName, os, offset));
          }
          b.setTrainingInfo(i, ti);
        }
        out = b.build();
      } catch (IOException e) {
        Files.deleteIfExists(tmpData);
        throw org.twicing.dsl.io.AtomicFile.naming(dataFile, e);
      } catch (RuntimeException e) {
        Files.deleteIfExists(tmpData);
        throw e;
      }
    }
    Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
    readableByAll(tmp);
    if (tmpData != null) {
      readableByAll(tmpData);
    }
    try {
      try (OutputStream os = Files.newOutputStream(tmp)) {
        out.writeTo(os);
      }
      if (tmpData != null) {
        Files.move(tmpData, dataFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      if (tmpData != null) {
        Files.deleteIfExists(tmpData);
      }
      if (e instanceof IOException io) {
        throw org.twicing.dsl.io.AtomicFile.naming(file, io);
      }
      throw e;
    }
  }

  /** Temp files are created owner-only; a model file should be as readable as any other output. */
  static void readableByAll(Path p) {
    try {
      Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    } catch (UnsupportedOperationException | IOException e) {
      // Non-POSIX file systems keep their default permissions.
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
