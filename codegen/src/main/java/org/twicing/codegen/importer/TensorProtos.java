package org.twicing.codegen.importer;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.dsl.types.Float16;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Encoding;
import org.twicing.dsl.types.Tensor;

/**
 * Conversion between ONNX {@link TensorProto}s and our {@link Tensor}s, in both directions: the emitter writes
 * raw little-endian data; reading accepts every storage ONNX allows for our dtypes (raw data, the typed value
 * fields, external data files).
 */
public final class TensorProtos {
  private TensorProtos() { }

  /** A TensorProto holding {@code t} as raw little-endian data ({@code name} may be null, as in attributes). */
  public static TensorProto fromTensor(String name, Tensor t) {
    TensorProto.Builder b = TensorProto.newBuilder().setDataType(t.dtype().onnxCode())
        .setRawData(ByteString.copyFrom(Encoding.toBytes(t)));
    if (name != null) {
      b.setName(name);
    }
    for (long d : t.shape()) {
      b.addDims(d);
    }
    return b.build();
  }

  /**
   * The tensor {@code t} holds. External data is read from files named relative to {@code externalDataDir}
   * (the directory of the model file). Errors name the tensor and what was expected.
   */
  public static Tensor toTensor(TensorProto t, Path externalDataDir) {
    String what = "tensor '" + t.getName() + "'";
    if (t.hasSegment()) {
      throw new IllegalArgumentException(what + " is segmented; segmented tensors are not supported");
    }
    DType dtype;
    try {
      dtype = DType.fromOnnxCode(t.getDataType());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + ": " + e.getMessage(), e);
    }
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(what + " has a negative dimension in " + Arrays.toString(shape));
      }
    }
    long count = Tensor.numel(shape);
    int n = Math.toIntExact(count);
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      return fromRaw(what, dtype, shape, ByteBuffer.wrap(externalBytes(t, externalDataDir)));
    }
    if (t.hasRawData()) {
      return fromRaw(what, dtype, shape, t.getRawData().asReadOnlyByteBuffer());
    }
    int stored = switch (dtype) {
      case FLOAT32 -> t.getFloatDataCount();
      case FLOAT64 -> t.getDoubleDataCount();
      case INT64 -> t.getInt64DataCount();
      case INT32, BOOL, FLOAT16, BFLOAT16 -> t.getInt32DataCount();
    };
    if (stored != n) {
      throw new IllegalArgumentException(what + " holds " + stored + " values, expected " + n + " for " + dtype
          + Arrays.toString(shape));
    }
    Tensor.Builder d = Tensor.builder(dtype, shape);
    for (int i = 0; i < n; i++) {
      d.set(i, switch (dtype) {
        case FLOAT32 -> t.getFloatData(i);
        case FLOAT64 -> t.getDoubleData(i);
        case INT64 -> t.getInt64Data(i);
        case INT32 -> t.getInt32Data(i);
        case BOOL -> t.getInt32Data(i) != 0 ? 1 : 0;
        // ONNX stores 16-bit floats as their bit patterns in int32_data.
        case FLOAT16 -> Float16.fromFloat16Bits((short) t.getInt32Data(i));
        case BFLOAT16 -> Float16.fromBFloat16Bits((short) t.getInt32Data(i));
      });
    }
    return d.build();
  }

  private static Tensor fromRaw(String what, DType dtype, long[] shape, ByteBuffer raw) {
    long expected = Tensor.numel(shape) * dtype.byteSize();
    if (raw.remaining() != expected) {
      throw new IllegalArgumentException(what + " has " + raw.remaining() + " bytes of data, expected " + expected
          + " for " + dtype + Arrays.toString(shape));
    }
    return Encoding.fromBytes(dtype, shape, raw);
  }

  private static byte[] externalBytes(TensorProto t, Path dir) {
    String location = null;
    long offset = 0;
    long length = -1;
    for (StringStringEntryProto e : t.getExternalDataList()) {
      switch (e.getKey()) {
        case "location" -> location = e.getValue();
        case "offset" -> offset = Long.parseLong(e.getValue());
        case "length" -> length = Long.parseLong(e.getValue());
        default -> { }
      }
    }
    if (location == null) {
      throw new IllegalArgumentException("tensor '" + t.getName() + "' has external data but names no location");
    }
    if (dir == null) {
      throw new IllegalArgumentException("tensor '" + t.getName() + "' has external data in '" + location
          + "' but no directory was given to resolve it against");
    }
    Path data = dir.resolve(location);
    try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
      long len = length >= 0 ? length : ch.size() - offset;
      if (offset + len > ch.size()) {
        throw new IllegalArgumentException(data + " has " + ch.size() + " bytes, but tensor '" + t.getName()
            + "' needs " + len + " bytes at offset " + offset);
      }
      ch.position(offset);
      try (InputStream in = Channels.newInputStream(ch)) {
        return in.readNBytes(Math.toIntExact(len));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read external data of tensor '" + t.getName() + "' from " + data, e);
    }
  }
}
