package org.twicing.dsl.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * Collects tensors as raw little-endian bytes (or as sources that stream them) and writes them as one safetensors
 * file, atomically. Data is not copied when added: buffers and sources are read only while the file is written,
 * so callers can hand over large native buffers (for example ONNX Runtime tensor storage) directly.
 * Tensors are laid out in name order and the header is padded with spaces to a multiple of 8 bytes, as the
 * reference implementation does, so every tensor's data starts 8-byte aligned relative to the buffer.
 */
public final class SafetensorsWriter {
  /** Streams one tensor's little-endian bytes; it must write exactly the tensor's byte length. */
  @FunctionalInterface
  public interface DataSource {
    /** Writes all of the tensor's bytes to {@code out}. */
    void writeTo(WritableByteChannel out) throws IOException;
  }

  private record Pending(DType dtype, long[] shape, long byteLength, DataSource source) { }

  // Encoding Tensor values happens in chunks of this many bytes, so memory use does not grow with tensor size.
  private static final int CHUNK_BYTES = 1 << 16;

  private final Map<String, Pending> tensors = new TreeMap<>();

  /** An empty writer. */
  public SafetensorsWriter() { }

  /**
   * Adds a tensor whose bytes are {@code littleEndianData}'s remaining bytes. The buffer is not copied and its
   * position is not moved; it must stay unchanged until {@link #writeAtomically} returns.
   */
  public SafetensorsWriter add(String name, DType dtype, long[] shape, ByteBuffer littleEndianData) {
    Objects.requireNonNull(littleEndianData, "littleEndianData");
    long expected = byteLength(name, dtype, shape);
    if (littleEndianData.remaining() != expected) {
      throw new IllegalArgumentException("tensor " + HeaderJson.quote(name) + " " + dtype + Arrays.toString(shape)
          + " needs " + expected + " bytes, its buffer has " + littleEndianData.remaining());
    }
    ByteBuffer view = littleEndianData.duplicate();
    return put(name, new Pending(dtype, shape.clone(), expected, out -> {
      ByteBuffer b = view.duplicate();
      while (b.hasRemaining()) {
        out.write(b);
      }
    }));
  }

  /**
   * Adds a tensor of {@code dtype} and {@code shape} whose bytes {@code source} streams when the file is
   * written; writing fails (leaving any existing file intact) if it writes more or fewer bytes than the shape needs.
   */
  public SafetensorsWriter add(String name, DType dtype, long[] shape, DataSource source) {
    Objects.requireNonNull(source, "source");
    return put(name, new Pending(dtype, shape.clone(), byteLength(name, dtype, shape), source));
  }

  /** Adds a host tensor, encoded to its dtype's bytes (float16/bfloat16 rounded to nearest even) when written. */
  public SafetensorsWriter add(String name, Tensor tensor) {
    Objects.requireNonNull(tensor, "tensor");
    String bad = TensorCodec.firstUnrepresentable(tensor);
    if (bad != null) {
      throw new IllegalArgumentException("tensor " + HeaderJson.quote(name) + ": " + bad);
    }
    long[] shape = tensor.shape();
    return put(name, new Pending(tensor.dtype(), shape, byteLength(name, tensor.dtype(), shape), out -> {
      int per = tensor.dtype().byteSize();
      ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES / per * per).order(ByteOrder.LITTLE_ENDIAN);
      int step = chunk.capacity() / per;
      for (int from = 0; from < tensor.size(); from += step) {
        chunk.clear();
        TensorCodec.encode(tensor, from, Math.min(tensor.size(), from + step), chunk);
        chunk.flip();
        while (chunk.hasRemaining()) {
          out.write(chunk);
        }
      }
    }));
  }

  /** Names of the tensors added so far, in the order they will be written. */
  public Set<String> names() {
    return Collections.unmodifiableSet(tensors.keySet());
  }

  /** Writes every added tensor and no metadata to {@code file}, atomically. */
  public void writeAtomically(Path file) throws IOException {
    writeAtomically(file, Map.of());
  }

  /**
   * Writes every added tensor and {@code metadata} to {@code file}: the bytes go to a temporary file in the same
   * directory which is renamed over {@code file} only once complete, so a failure leaves any existing file intact.
   */
  public void writeAtomically(Path file, Map<String, String> metadata) throws IOException {
    byte[] header = header(metadata);
    AtomicFile.write(file, out -> {
      ByteBuffer prefix = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
      prefix.putLong(header.length).put(header).flip();
      while (prefix.hasRemaining()) {
        out.write(prefix);
      }
      for (Map.Entry<String, Pending> e : tensors.entrySet()) {
        writeData(file, e.getKey(), e.getValue(), out);
      }
    });
  }

  private static void writeData(Path file, String name, Pending p, FileChannel out) throws IOException {
    CountingChannel counted = new CountingChannel(out, p.byteLength);
    try {
      p.source.writeTo(counted);
    } catch (ClosedChannelException | RuntimeException e) {
      throw e;
    } catch (IOException e) {
      throw new IOException(file + ": writing tensor " + HeaderJson.quote(name) + " failed after "
          + counted.written + " of " + p.byteLength + " bytes: " + e.getMessage(), e);
    }
    if (counted.written != p.byteLength) {
      throw new IOException(file + ": tensor " + HeaderJson.quote(name) + " supplied only " + counted.written
          + " of its " + p.byteLength + " bytes");
    }
  }

  /** The padded UTF-8 JSON header: metadata first, then tensors in name order with consecutive offsets. */
  private byte[] header(Map<String, String> metadata) {
    StringBuilder json = new StringBuilder("{");
    if (!metadata.isEmpty()) {
      json.append("\"__metadata__\":{");
      String sep = "";
      for (Map.Entry<String, String> m : new TreeMap<>(metadata).entrySet()) {
        json.append(sep).append(HeaderJson.quote(Objects.requireNonNull(m.getKey(), "metadata key")))
            .append(':').append(HeaderJson.quote(Objects.requireNonNull(m.getValue(),
                "metadata value for " + m.getKey())));
        sep = ",";
      }
      json.append('}');
    }
    long offset = 0;
    String sep = metadata.isEmpty() ? "" : ",";
    for (Map.Entry<String, Pending> e : tensors.entrySet()) {
      Pending p = e.getValue();
      json.append(sep).append(HeaderJson.quote(e.getKey())).append(":{\"dtype\":\"")
          .append(Safetensors.dtypeCode(p.dtype)).append("\",\"shape\":[");
      for (int i = 0; i < p.shape.length; i++) {
        json.append(i == 0 ? "" : ",").append(p.shape[i]);
      }
      json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + p.byteLength).append("]}");
      offset += p.byteLength;
      sep = ",";
    }
    json.append('}');
    byte[] utf8 = json.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (utf8.length + 7) / 8 * 8;
    byte[] out = Arrays.copyOf(utf8, padded);
    Arrays.fill(out, utf8.length, padded, (byte) ' ');
    return out;
  }

  private SafetensorsWriter put(String name, Pending p) {
    if (tensors.containsKey(name)) {
      throw new IllegalArgumentException("tensor " + HeaderJson.quote(name) + " was already added");
    }
    tensors.put(name, p);
    return this;
  }

  private static long byteLength(String name, DType dtype, long[] shape) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    if (name.equals(Safetensors.METADATA_KEY)) {
      throw new IllegalArgumentException("'" + Safetensors.METADATA_KEY + "' is reserved for metadata and cannot"
          + " name a tensor");
    }
    long n = 1;
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("tensor " + HeaderJson.quote(name) + " has negative dimension in shape "
            + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, s);
    }
    return Math.multiplyExact(n, (long) dtype.byteSize());
  }

  /** Passes writes through while refusing to exceed a tensor's byte length, so overruns are caught where made. */
  private static final class CountingChannel implements WritableByteChannel {
    private final FileChannel out;
    private final long limit;
    private long written;

    CountingChannel(FileChannel out, long limit) {
      this.out = out;
      this.limit = limit;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      if (written + src.remaining() > limit) {
        throw new IOException("source wrote more than the " + limit + " bytes the tensor's shape needs");
      }
      int n = out.write(src);
      written += n;
      return n;
    }

    @Override
    public boolean isOpen() {
      return out.isOpen();
    }

    @Override
    public void close() {
      // The file channel belongs to the writer; a source closing its view must not end the whole file.
    }
  }
}
