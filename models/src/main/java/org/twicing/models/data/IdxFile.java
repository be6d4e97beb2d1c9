package org.twicing.models.data;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;
import org.twicing.dsl.io.AtomicFile;

/**
 * An IDX file of unsigned bytes as used by MNIST and Fashion-MNIST: images (magic {@code 0x00000803}, shape
 * [n, rows, cols]) or labels (magic {@code 0x00000801}, shape [n]). Reads gzip-compressed or raw files alike,
 * telling them apart by the gzip magic bytes rather than by file name.
 */
public final class IdxFile {
  /** Magic number of a uint8 IDX file with three dimensions: images [n, rows, cols]. */
  public static final int IMAGES_MAGIC = 0x00000803;
  /** Magic number of a uint8 IDX file with one dimension: labels [n]. */
  public static final int LABELS_MAGIC = 0x00000801;

  // Bigger files are not Fashion-MNIST-like data sets; the cap also keeps a corrupt header from asking for 8 GB.
  private static final long MAX_DATA_BYTES = Integer.MAX_VALUE - 8;

  private final String source;
  private final int magic;
  private final int[] dims;
  private final byte[] data;

  private IdxFile(String source, int magic, int[] dims, byte[] data) {
    this.source = source;
    this.magic = magic;
    this.dims = dims;
    this.data = data;
  }

  /** Reads an images or labels file from disk, gzip-compressed or raw. */
  public static IdxFile read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, Files.exists(file)
          ? "IDX file is not a regular file" : "IDX file does not exist");
    }
    try (InputStream in = Files.newInputStream(file)) {
      return read(in, file.toString());
    }
  }

  /** Reads an images file ({@link #IMAGES_MAGIC}) from disk; any other kind of file is an error naming it. */
  public static IdxFile readImages(Path file) throws IOException {
    return read(file).requireMagic(IMAGES_MAGIC);
  }

  /** Reads a labels file ({@link #LABELS_MAGIC}) from disk; any other kind of file is an error naming it. */
  public static IdxFile readLabels(Path file) throws IOException {
    return read(file).requireMagic(LABELS_MAGIC);
  }

  /** Reads an IDX file from {@code in} (not closed), gzip or raw; {@code source} names it in messages. */
  public static IdxFile read(InputStream in, String source) throws IOException {
    BufferedInputStream buffered = new BufferedInputStream(in, 1 << 16);
    buffered.mark(2);
    int b0 = buffered.read();
    int b1 = buffered.read();
    buffered.reset();
    InputStream body = buffered;
    if (b0 == 0x1f && b1 == 0x8b) {
      try {
        body = new GZIPInputStream(buffered, 1 << 16);
      } catch (ZipException | EOFException e) {
        throw new IOException(source + ": corrupt gzip header: " + e.getMessage(), e);
      }
    }
    try {
      return parse(body, source);
    } catch (ZipException e) {
      throw new IOException(source + ": corrupt gzip data: " + e.getMessage(), e);
    } catch (EOFException e) {
      throw new IOException(source + ": truncated gzip data (the compressed stream ends early)", e);
    }
  }

  private static IdxFile parse(InputStream in, String source) throws IOException {
    byte[] header = in.readNBytes(4);
    if (header.length < 4) {
      throw new IOException(source + ": truncated IDX file: " + header.length + " bytes, too short for the"
          + " 4-byte magic number");
    }
    int magic = bigEndianInt(header, 0);
    if (magic != IMAGES_MAGIC && magic != LABELS_MAGIC) {
      throw new IOException(source + ": not a uint8 IDX images or labels file: magic number " + hex(magic)
          + ", expected " + hex(IMAGES_MAGIC) + " (images) or " + hex(LABELS_MAGIC) + " (labels)");
    }
    int rank = magic & 0xff;
    byte[] dimBytes = in.readNBytes(4 * rank);
    if (dimBytes.length < 4 * rank) {
      throw new IOException(source + ": truncated IDX file: the header needs " + 4 * rank
          + " bytes of dimensions after the magic number, found " + dimBytes.length);
    }
    int[] dims = new int[rank];
    long size = 1;
    for (int i = 0; i < rank; i++) {
      dims[i] = bigEndianInt(dimBytes, 4 * i);
      if (dims[i] < 0) {
        throw new IOException(source + ": IDX dimension " + i + " is negative (" + dims[i] + ")");
      }
      size *= dims[i];
      if (size > MAX_DATA_BYTES) {
        throw new IOException(source + ": IDX dimensions " + Arrays.toString(dims) + " describe more than "
            + MAX_DATA_BYTES + " bytes");
      }
    }
    byte[] data = in.readNBytes((int) size);
    if (data.length < size) {
      throw new IOException(source + ": truncated IDX file: the header promises " + size + " bytes of data for"
          + " shape " + Arrays.toString(dims) + " but only " + data.length + " follow");
    }
    if (in.read() != -1) {
      throw new IOException(source + ": IDX file has bytes after the " + size + " data bytes its header describes"
          + " (shape " + Arrays.toString(dims) + ")");
    }
    return new IdxFile(source, magic, dims, data);
  }

  /** This file, if its magic is {@code expected}; otherwise an error naming the file and both kinds. */
  public IdxFile requireMagic(int expected) throws IOException {
    if (magic != expected) {
      throw new IOException(source + ": holds " + kind(magic) + " (magic " + hex(magic) + "), expected "
          + kind(expected) + " (magic " + hex(expected) + ")");
    }
    return this;
  }

  /**
   * Writes an IDX file atomically, gzip-compressed when {@code gzip}. {@code data} holds the unsigned bytes in
   * row-major order and must have the element count {@code dims} describe.
   */
  public static void write(Path file, int magic, int[] dims, byte[] data, boolean gzip) throws IOException {
    if ((magic != IMAGES_MAGIC && magic != LABELS_MAGIC) || dims.length != (magic & 0xff)) {
      throw new IllegalArgumentException("magic " + hex(magic) + " with dims " + Arrays.toString(dims)
          + " is not a uint8 IDX images [n, rows, cols] or labels [n] file");
    }
    long size = 1;
    for (int d : dims) {
      size *= d;
    }
    if (size != data.length) {
      throw new IllegalArgumentException("dims " + Arrays.toString(dims) + " need " + size + " bytes, got "
          + data.length);
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(data.length / 2 + 64);
    // Default deflate level: level 9 is ten times slower on these images for under 1% smaller files.
    try (OutputStream sink = gzip ? new GZIPOutputStream(bytes, 1 << 16) : bytes;
        DataOutputStream out = new DataOutputStream(sink)) {
      out.writeInt(magic);
      for (int d : dims) {
        out.writeInt(d);
      }
      out.write(data);
    }
    byte[] content = bytes.toByteArray();
    AtomicFile.write(file, channel -> Channels.newOutputStream(channel).write(content));
  }

  /** Where the file was read from (a path or a classpath resource), for messages. */
  public String source() {
    return source;
  }

  /** The magic number: {@link #IMAGES_MAGIC} or {@link #LABELS_MAGIC}. */
  public int magic() {
    return magic;
  }

  /** Whether this is an images file. */
  public boolean isImages() {
    return magic == IMAGES_MAGIC;
  }

  /** A copy of the dimensions: [n, rows, cols] for images, [n] for labels. */
  public int[] dims() {
    return dims.clone();
  }

  /** Number of items (images or labels): the first dimension. */
  public int count() {
    return dims[0];
  }

  /** Number of bytes per item: rows * cols for images, 1 for labels. */
  public int itemSize() {
    return dims.length == 3 ? dims[1] * dims[2] : 1;
  }

  /** The unsigned byte at flat index {@code i}. */
  public int unsignedByte(int i) {
    return data[i] & 0xff;
  }

  /** A copy of all data bytes in row-major order (interpret as unsigned). */
  public byte[] bytes() {
    return data.clone();
  }

  /** The data bytes without copying, for classes in this package that take ownership. */
  byte[] bytesUnsafe() {
    return data;
  }

  private static String kind(int magic) {
    return magic == IMAGES_MAGIC ? "images" : magic == LABELS_MAGIC ? "labels" : "unknown data";
  }

  private static int bigEndianInt(byte[] b, int at) {
    return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
  }

  private static String hex(int v) {
    return String.format("0x%08x", v);
  }

  @Override
  public String toString() {
    return "IdxFile(" + source + ", " + kind(magic) + " " + Arrays.toString(dims) + ")";
  }
}
