package org.twicing.dsl.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * An open safetensors file whose header has been read and fully validated; tensor data is read on demand, either
 * decoded to {@link Tensor} or as raw little-endian bytes (for handing to native tensors without a double[] copy).
 */
public final class SafetensorsReader implements Closeable {
  // The reference implementation refuses headers above 100 MB; a larger length is a corrupt or foreign file.
  private static final long MAX_HEADER_BYTES = 100_000_000;

  private final Path file;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, SafetensorsEntry> entries;
  private final Map<String, String> metadata;

  private SafetensorsReader(Path file, FileChannel channel, long dataStart, Map<String, SafetensorsEntry> entries,
      Map<String, String> metadata) {
    this.file = file;
    this.channel = channel;
    this.dataStart = dataStart;
    this.entries = Collections.unmodifiableMap(entries);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /** Opens {@code file} and validates its header against the file size; see {@link Safetensors#open}. */
  static SafetensorsReader open(Path file) throws IOException {
    if (!Files.exists(file)) {
      throw new NoSuchFileException(file.toString(), null, "safetensors file does not exist");
    }
    if (Files.isDirectory(file)) {
      throw new SafetensorsFormatException(file, "is a directory, expected a safetensors file");
    }
    FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
    try {
      SafetensorsReader reader = readHeader(file, channel);
      channel = null; // now owned by the reader
      return reader;
    } finally {
      if (channel != null) {
        channel.close();
      }
    }
  }

  private static SafetensorsReader readHeader(Path file, FileChannel channel) throws IOException {
    long size = channel.size();
    if (size < 8) {
      throw new SafetensorsFormatException(file, "file is " + size + " bytes, too short for the 8-byte header"
          + " length that starts a safetensors file");
    }
    ByteBuffer lengthBytes = readFully(file, channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN);
    long headerLength = lengthBytes.getLong();
    if (headerLength < 0 || headerLength > size - 8) {
      throw new SafetensorsFormatException(file, "header length " + Long.toUnsignedString(headerLength)
          + " is larger than the " + (size - 8) + " bytes that follow it (is this a safetensors file?)");
    }
    if (headerLength > MAX_HEADER_BYTES) {
      throw new SafetensorsFormatException(file, "header length " + headerLength + " exceeds the "
          + MAX_HEADER_BYTES + "-byte limit of the format");
    }
    ByteBuffer headerBytes = readFully(file, channel, 8, (int) headerLength);
    String json;
    try {
      json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(headerBytes).toString();
    } catch (CharacterCodingException e) {
      throw new SafetensorsFormatException(file, null, "header is not valid UTF-8", e);
    }
    Object parsed;
    try {
      parsed = HeaderJson.parse(json);
    } catch (HeaderJson.SyntaxException e) {
      throw new SafetensorsFormatException(file, null, "header is not valid JSON: " + e.getMessage(), e);
    }
    if (!(parsed instanceof Map<?, ?> top)) {
      throw new SafetensorsFormatException(file, "header must be a JSON object, found " + describe(parsed));
    }
    long dataLength = size - 8 - headerLength;
    Map<String, String> metadata = new LinkedHashMap<>();
    Map<String, SafetensorsEntry> entries = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : top.entrySet()) {
      String name = (String) e.getKey();
      if (name.equals(Safetensors.METADATA_KEY)) {
        readMetadata(file, e.getValue(), metadata);
      } else {
        entries.put(name, readEntry(file, name, e.getValue(), dataLength));
      }
    }
    checkLayout(file, entries.values(), dataLength);
    return new SafetensorsReader(file, channel, 8 + headerLength, entries, metadata);
  }

  private static void readMetadata(Path file, Object value, Map<String, String> out) throws IOException {
    if (!(value instanceof Map<?, ?> m)) {
      throw new SafetensorsFormatException(file, "\"" + Safetensors.METADATA_KEY + "\" must be an object of"
          + " strings, found " + describe(value));
    }
    for (Map.Entry<?, ?> e : m.entrySet()) {
      if (!(e.getValue() instanceof String s)) {
        throw new SafetensorsFormatException(file, "metadata value for " + HeaderJson.quote((String) e.getKey())
            + " must be a string, found " + describe(e.getValue()));
      }
      out.put((String) e.getKey(), s);
    }
  }

  private static SafetensorsEntry readEntry(Path file, String name, Object value, long dataLength)
      throws IOException {
    if (!(value instanceof Map<?, ?> m)) {
      throw new SafetensorsFormatException(file, name, "entry must be an object with dtype, shape and"
          + " data_offsets, found " + describe(value));
    }
    Object dtypeValue = m.get("dtype");
    if (!(dtypeValue instanceof String dtypeCode)) {
      throw new SafetensorsFormatException(file, name, "\"dtype\" must be a string, found " + describe(dtypeValue));
    }
    DType dtype;
    try {
      dtype = Safetensors.dtypeOf(dtypeCode);
    } catch (IllegalArgumentException e) {
      throw new SafetensorsFormatException(file, name, e.getMessage());
    }
    long[] shape = longs(file, name, "shape", m.get("shape"), -1);
    long[] offsets = longs(file, name, "data_offsets", m.get("data_offsets"), 2);
    for (long s : shape) {
      if (s < 0) {
        throw new SafetensorsFormatException(file, name, "shape " + Arrays.toString(shape)
            + " has a negative dimension");
      }
    }
    long begin = offsets[0];
    long end = offsets[1];
    if (begin < 0 || end < begin) {
      throw new SafetensorsFormatException(file, name, "data_offsets " + Arrays.toString(offsets)
          + " must satisfy 0 <= begin <= end");
    }
    if (end > dataLength) {
      throw new SafetensorsFormatException(file, name, "data_offsets " + Arrays.toString(offsets)
          + " are out of range: the data buffer has only " + dataLength + " bytes");
    }
    long expected;
    try {
      // Tensor.numel would wrap silently; overflow checks make an absurd shape an error, not a wrong size.
      long n = 1;
      for (long s : shape) {
        n = Math.multiplyExact(n, s);
      }
      expected = Math.multiplyExact(n, (long) dtype.byteSize());
    } catch (ArithmeticException e) {
      throw new SafetensorsFormatException(file, name, "shape " + Arrays.toString(shape) + " is too large");
    }
    if (expected != end - begin) {
      throw new SafetensorsFormatException(file, name, "shape " + Arrays.toString(shape) + " of " + dtypeCode
          + " needs " + expected + " bytes but data_offsets " + Arrays.toString(offsets) + " span "
          + (end - begin));
    }
    return new SafetensorsEntry(name, dtype, shape, begin, end);
  }

  /** Requires the tensors to tile the data buffer exactly: no overlaps, no gaps, nothing left over. */
  private static void checkLayout(Path file, Collection<SafetensorsEntry> entries, long dataLength)
      throws IOException {
    List<SafetensorsEntry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparingLong(SafetensorsEntry::begin).thenComparingLong(SafetensorsEntry::end));
    long covered = 0;
    SafetensorsEntry previous = null;
    for (SafetensorsEntry e : sorted) {
      if (e.begin() < covered) {
        throw new SafetensorsFormatException(file, e.name(), "data bytes [" + e.begin() + ", " + e.end()
            + ") overlap those of tensor " + HeaderJson.quote(previous.name()) + " [" + previous.begin() + ", "
            + previous.end() + ")");
      }
      if (e.begin() > covered) {
        throw new SafetensorsFormatException(file, e.name(), "data starts at byte " + e.begin() + " but bytes ["
            + covered + ", " + e.begin() + ") of the data buffer belong to no tensor (offsets do not cover the"
            + " buffer)");
      }
      covered = e.end();
      previous = e;
    }
    if (covered != dataLength) {
      throw new SafetensorsFormatException(file, "the data buffer has " + dataLength + " bytes but the tensors"
          + " cover only " + covered + " (offsets do not cover the buffer)");
    }
  }

  private static long[] longs(Path file, String name, String key, Object value, int requiredLength)
      throws IOException {
    if (!(value instanceof List<?> list)) {
      throw new SafetensorsFormatException(file, name, HeaderJson.quote(key) + " must be an array of integers,"
          + " found " + describe(value));
    }
    if (requiredLength >= 0 && list.size() != requiredLength) {
      throw new SafetensorsFormatException(file, name, HeaderJson.quote(key) + " must have " + requiredLength
          + " entries, found " + list.size());
    }
    long[] out = new long[list.size()];
    for (int i = 0; i < out.length; i++) {
      if (!(list.get(i) instanceof Long l)) {
        throw new SafetensorsFormatException(file, name, HeaderJson.quote(key) + " must be an array of"
            + " integers, found " + describe(list.get(i)) + " at index " + i);
      }
      out[i] = l;
    }
    return out;
  }

  private static String describe(Object v) {
    if (v == null) {
      return "nothing";
    }
    if (v instanceof Map) {
      return "an object";
    }
    if (v instanceof List) {
      return "an array";
    }
    if (v instanceof String s) {
      return "the string " + HeaderJson.quote(s);
    }
    return "the integer " + v;
  }

  private static ByteBuffer readFully(Path file, FileChannel channel, long position, int length)
      throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length);
    fill(file, channel, position, b);
    return b.flip();
  }

  private static void fill(Path file, FileChannel channel, long position, ByteBuffer b) throws IOException {
    long at = position;
    while (b.hasRemaining()) {
      int n = channel.read(b, at);
      if (n < 0) {
        throw new SafetensorsFormatException(file, "file ended at byte " + at + " while reading; it was"
            + " truncated after it was opened");
      }
      at += n;
    }
  }

  /** The file this reader reads. */
  public Path path() {
    return file;
  }

  /** The string-to-string metadata of the header ({@code __metadata__}); empty when absent. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Every tensor's header entry, keyed by name in header order. */
  public Map<String, SafetensorsEntry> entries() {
    return entries;
  }

  /** Whether the file holds a tensor called {@code name}. */
  public boolean contains(String name) {
    return entries.containsKey(name);
  }

  /** The header entry of tensor {@code name}; fails naming the file and the tensor when there is none. */
  public SafetensorsEntry entry(String name) {
    SafetensorsEntry e = entries.get(name);
    if (e == null) {
      throw new NoSuchElementException(file + ": no tensor " + HeaderJson.quote(name) + " (it holds "
          + entries.size() + " tensors" + (entries.isEmpty() ? "" : ", e.g. "
          + HeaderJson.quote(entries.keySet().iterator().next())) + ")");
    }
    return e;
  }

  /**
   * Tensor {@code name}'s bytes exactly as stored: a new direct, little-endian buffer positioned at 0 whose
   * remaining bytes are the data, ready to back a native tensor without decoding.
   */
  public ByteBuffer rawData(String name) throws IOException {
    SafetensorsEntry e = entry(name);
    if (e.byteLength() > Integer.MAX_VALUE) {
      throw new SafetensorsFormatException(file, name, e.byteLength() + " bytes do not fit in one ByteBuffer");
    }
    ByteBuffer b = ByteBuffer.allocateDirect((int) e.byteLength()).order(ByteOrder.LITTLE_ENDIAN);
    fill(file, channel, dataStart + e.begin(), b);
    return b.flip();
  }

  /** Tensor {@code name} decoded to a host {@link Tensor} (float16/bfloat16 widened exactly). */
  public Tensor tensor(String name) throws IOException {
    SafetensorsEntry e = entry(name);
    if (e.numel() > Integer.MAX_VALUE - 8) {
      throw new SafetensorsFormatException(file, name, e.numel() + " elements are too many for a host Tensor");
    }
    return TensorCodec.decode(e.dtype(), e.shape(), rawData(name));
  }

  /** Closes the file. */
  @Override
  public void close() throws IOException {
    channel.close();
  }
}
