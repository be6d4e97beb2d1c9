package org.twicing.dsl.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/** Round trips, interoperability with a file written independently by Python, corrupt files and atomicity. */
class SafetensorsTest {
  @TempDir
  Path dir;

  // ---------------------------------------------------------------------------------------------- round trips

  /** One tensor per dtype, with values the dtype holds exactly, so a lossless round trip must reproduce them. */
  private static Map<String, Tensor> everyDtype() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("f32", new Tensor(DType.FLOAT32, new long[] {2, 3},
        new double[] {1.5, -0.25, (float) Math.PI, Float.MAX_VALUE, Float.MIN_VALUE, -0.0}));
    m.put("f64", new Tensor(DType.FLOAT64, new long[] {4},
        new double[] {Math.PI, -1e300, Double.MIN_VALUE, Double.NEGATIVE_INFINITY}));
    m.put("f16", new Tensor(DType.FLOAT16, new long[] {5}, new double[] {1.0, -65504.0, 0x1p-24, 0.333251953125,
        Double.POSITIVE_INFINITY}));
    m.put("bf16", new Tensor(DType.BFLOAT16, new long[] {1, 3}, new double[] {1.0078125, -3.3895313892515355e38,
        0x1p-133}));
    m.put("i64", new Tensor(DType.INT64, new long[] {3}, new double[] {-(double) (1L << 53), 0, 0x1p62}));
    m.put("i32", new Tensor(DType.INT32, new long[] {3}, new double[] {Integer.MIN_VALUE, Integer.MAX_VALUE, -7}));
    m.put("mask", new Tensor(DType.BOOL, new long[] {2, 2}, new double[] {1, 0, 0, 1}));
    m.put("scalar", Tensor.scalar(DType.FLOAT64, 2.5));
    m.put("empty", Tensor.zeros(DType.FLOAT32, 0, 7));
    return m;
  }

  private static void assertSameTensor(Tensor expected, Tensor actual, String name) {
    assertEquals(expected.dtype(), actual.dtype(), name + " dtype");
    assertArrayEquals(expected.shape(), actual.shape(), name + " shape");
    for (int i = 0; i < expected.size(); i++) {
      // Bit equality so that -0.0 and infinities count too.
      assertEquals(Double.doubleToLongBits(expected.get(i)), Double.doubleToLongBits(actual.get(i)),
          name + "[" + i + "]: expected " + expected.get(i) + ", got " + actual.get(i));
    }
  }

  @Test
  void everyDtypeRoundTripsWithMetadata() throws IOException {
    Path file = dir.resolve("all.safetensors");
    Map<String, String> meta = Map.of("step", "1200", "note", "quote \" backslash \\ newline \n control \u0001 é ☃");
    Safetensors.write(file, everyDtype(), meta);

    SafetensorsFile read = Safetensors.read(file);
    assertEquals(meta, read.metadata());
    List<String> sorted = new ArrayList<>(everyDtype().keySet());
    sorted.sort(null);
    assertEquals(sorted, new ArrayList<>(read.tensors().keySet()), "tensors come back in the written (name) order");
    everyDtype().forEach((name, t) -> assertSameTensor(t, read.tensor(name), name));
  }

  @Test
  void writerProducesTheDocumentedByteLayout() throws IOException {
    Path file = dir.resolve("layout.safetensors");
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("w", Tensor.floats(new long[] {2}, 1.0f, -2.0f));
    tensors.put("b", Tensor.longs(3));
    Safetensors.write(file, tensors, Map.of("k", "v"));

    String json = "{\"__metadata__\":{\"k\":\"v\"},"
        + "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
        + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
    int padded = (json.length() + 7) / 8 * 8;
    ByteBuffer expected = ByteBuffer.allocate(8 + padded + 16).order(ByteOrder.LITTLE_ENDIAN);
    expected.putLong(padded).put((json + " ".repeat(padded - json.length())).getBytes(StandardCharsets.US_ASCII));
    expected.putLong(3).putFloat(1.0f).putFloat(-2.0f);
    assertArrayEquals(expected.array(), Files.readAllBytes(file));
  }

  @Test
  void halfPrecisionIsRoundedFromDoubleWhenWritten() throws IOException {
    Path file = dir.resolve("half.safetensors");
    // 1 + 2^-11 + 2^-40 lies just above the tie between halves 0x3c00 and 0x3c01: correct rounding gives 0x3c01.
    double x = 1 + 0x1p-11 + 0x1p-40;
    Safetensors.write(file, Map.of("h", new Tensor(DType.FLOAT16, new long[] {1}, new double[] {x}),
        "b", new Tensor(DType.BFLOAT16, new long[] {1}, new double[] {1 + 0x1p-8 + 0x1p-30})), Map.of());
    try (SafetensorsReader r = Safetensors.open(file)) {
      assertEquals(0x3c01, r.rawData("h").getShort() & 0xffff);
      assertEquals(0x3f81, r.rawData("b").getShort() & 0xffff);
      assertEquals(1 + 0x1p-10, r.tensor("h").get(0));
    }
  }

  @Test
  void namesWithEscapesAndUnicodeRoundTrip() throws IOException {
    Path file = dir.resolve("names.safetensors");
    Map<String, Tensor> tensors = new HashMap<>();
    for (String name : List.of("plain", "with \"quote\"", "back\\slash", "new\nline", "tab\t", "Gewicht.ü", "☃")) {
      tensors.put(name, Tensor.scalar(DType.INT32, name.length()));
    }
    Safetensors.write(file, tensors, Map.of());
    SafetensorsFile read = Safetensors.read(file);
    assertEquals(tensors.keySet(), read.tensors().keySet());
    tensors.forEach((n, t) -> assertEquals(n.length(), read.tensor(n).get(0)));
  }

  @Test
  void rawByteBuffersAreWrittenAndReadBackUnchanged() throws IOException {
    Path file = dir.resolve("raw.safetensors");
    ByteBuffer direct = ByteBuffer.allocateDirect(4 + 6 * 4).order(ByteOrder.LITTLE_ENDIAN);
    direct.putInt(0xdeadbeef); // bytes before the position are not part of the tensor
    for (int i = 0; i < 6; i++) {
      direct.putFloat(i * 0.5f);
    }
    direct.position(4);
    ByteBuffer ids = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(42).putLong(-1).flip();
    new SafetensorsWriter()
        .add("x", DType.FLOAT32, new long[] {2, 3}, direct)
        .add("ids", DType.INT64, new long[] {2}, ids)
        .writeAtomically(file, Map.of("format", "raw"));
    assertEquals(4, direct.position(), "the caller's buffer position is not moved");

    try (SafetensorsReader r = Safetensors.open(file)) {
      assertEquals(Map.of("format", "raw"), r.metadata());
      ByteBuffer x = r.rawData("x");
      assertTrue(x.isDirect());
      assertEquals(ByteOrder.LITTLE_ENDIAN, x.order());
      assertEquals(24, x.remaining());
      for (int i = 0; i < 6; i++) {
        assertEquals(i * 0.5f, x.getFloat());
      }
      assertEquals(DType.INT64, r.entry("ids").dtype());
      assertArrayEquals(new long[] {2}, r.entry("ids").shape());
      assertArrayEquals(new long[] {42, -1}, r.tensor("ids").toLongs());
      NoSuchElementException missing = assertThrows(NoSuchElementException.class, () -> r.entry("nope"));
      assertTrue(missing.getMessage().contains(file.toString()) && missing.getMessage().contains("\"nope\""),
          missing.getMessage());
    }
  }

  @Test
  void writerRejectsBadTensorsWhenAdded() {
    SafetensorsWriter w = new SafetensorsWriter();
    IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
        () -> w.add("x", DType.FLOAT32, new long[] {3}, ByteBuffer.allocate(8)));
    assertTrue(size.getMessage().contains("\"x\"") && size.getMessage().contains("needs 12 bytes"),
        size.getMessage());
    w.add("y", Tensor.scalar(DType.FLOAT32, 1));
    assertThrows(IllegalArgumentException.class, () -> w.add("y", Tensor.scalar(DType.FLOAT32, 2)));
    assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", Tensor.scalar(DType.FLOAT32, 2)));
    IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
        () -> w.add("big", Tensor.scalar(DType.INT32, 3e9)));
    assertTrue(range.getMessage().contains("\"big\"") && range.getMessage().contains("int32"), range.getMessage());
  }

  // ------------------------------------------------------------------------------- a file written by Python

  private static final String PYTHON_WRITER = String.join("\n",
      "import json, struct, sys",
      "import numpy as np",
      "out, expected_path = sys.argv[1], sys.argv[2]",
      "rng = np.random.default_rng(7)",
      "half_src = np.concatenate([rng.standard_normal(20) * 100,",
      "    [1 + 2**-11 + 2**-40, 65520.0, 2**-25 + 2**-40, 3 * 2**-25, -0.0, 1e-9, 70000.0, 1 / 3]])",
      "bf_src = rng.standard_normal(6).astype(np.float32)",
      "bits = bf_src.view(np.uint32)",
      "bf_bits = ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16).astype(np.uint16)",
      "bf_values = (bf_bits.astype(np.uint32) << 16).view(np.float32)",
      "with np.errstate(over='ignore'):",
      "    half = half_src.astype(np.float16)",
      "tensors = [  # (name, safetensors dtype, array, raw bytes)",
      "    ('z.f32', 'F32', rng.standard_normal((3, 4)).astype(np.float32)),",
      "    ('a.f64', 'F64', rng.standard_normal((2, 3))),",
      "    ('half', 'F16', half),",
      "    ('bf', 'BF16', bf_values.reshape(2, 3), bf_bits.reshape(2, 3)),",
      "    ('Gewicht.\\u00fc', 'I64', np.array([[0, -1, 2**53, -2**62]], dtype=np.int64)),",
      "    ('i32', 'I32', np.array([2**31 - 1, -2**31, 7], dtype=np.int32)),",
      "    ('mask', 'BOOL', np.array([True, False, True])),",
      "    ('empty', 'F32', np.zeros((0, 5), dtype=np.float32)),",
      "    ('scalar', 'F64', np.array(3.5)),",
      "]",
      "# Lay the data out in reverse header order so readers must honour data_offsets, not header order.",
      "header, blobs, offset = {}, [], 0",
      "for entry in reversed(tensors):",
      "    name, dt, arr = entry[0], entry[1], entry[2]",
      "    raw = (entry[3] if len(entry) > 3 else arr).astype((entry[3] if len(entry) > 3 else arr).dtype.newbyteorder('<')).tobytes()",
      "    blobs.append(raw)",
      "    header[name] = (dt, list(arr.shape), [offset, offset + len(raw)])",
      "    offset += len(raw)",
      "h = {name: {'dtype': header[name][0], 'shape': header[name][1], 'data_offsets': header[name][2]}",
      "     for name, *_ in tensors}",
      "h['__metadata__'] = {'format': 'pt', 'escaped': 'tab\\there \\u2603'}",
      "hb = json.dumps(h).encode('utf-8')  # ensure_ascii: non-ASCII names arrive as \\u escapes",
      "with open(out, 'wb') as f:",
      "    f.write(struct.pack('<Q', len(hb)))",
      "    f.write(hb)",
      "    for b in blobs:",
      "        f.write(b)",
      "def fmt(v):",
      "    v = float(v)",
      "    return 'NaN' if v != v else ('Infinity' if v == float('inf') else ('-Infinity' if v == float('-inf') else repr(v)))",
      "with open(expected_path, 'w', encoding='utf-8') as f:",
      "    for name, dt, arr, *_ in tensors:",
      "        f.write('\\t'.join([name, dt, ','.join(str(s) for s in arr.shape)] + [fmt(v) for v in arr.reshape(-1)]) + '\\n')",
      "    f.write('\\t'.join(['#halfsrc', '', ''] + [fmt(v) for v in half_src]) + '\\n')",
      "");

  private static boolean pythonWithNumpy() {
    try {
      Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import numpy").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  @Test
  void readsAFileWrittenByPythonAndNumpy() throws Exception {
    boolean available = pythonWithNumpy();
    // CI (.ci/run) sets twicing.requireReferences so that a missing reference fails rather than skips.
    assertTrue(available || !Boolean.getBoolean("twicing.requireReferences"),
        "/usr/bin/python3 with numpy is not available (twicing.requireReferences is set: a missing reference fails)");
    assumeTrue(available, "/usr/bin/python3 with numpy is not available");
    Path file = dir.resolve("py.safetensors");
    Path expectedFile = dir.resolve("expected.tsv");
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", PYTHON_WRITER, file.toString(), expectedFile.toString())
        .redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python timed out");
    assertEquals(0, p.exitValue(), "python failed:\n" + output);

    SafetensorsFile read = Safetensors.read(file);
    assertEquals(Map.of("format", "pt", "escaped", "tab\there \u2603"), read.metadata());
    List<String> names = new ArrayList<>();
    double[] halfSource = null;
    for (String line : Files.readAllLines(expectedFile, StandardCharsets.UTF_8)) {
      String[] f = line.split("\t", -1);
      double[] values = Arrays.stream(f, 3, f.length).mapToDouble(Double::parseDouble).toArray();
      if (f[0].equals("#halfsrc")) {
        halfSource = values;
        continue;
      }
      names.add(f[0]);
      long[] shape = f[2].isEmpty() ? new long[0] : Arrays.stream(f[2].split(",")).mapToLong(Long::parseLong)
          .toArray();
      assertSameTensor(new Tensor(Safetensors.dtypeOf(f[1]), shape, values), read.tensor(f[0]), f[0]);
    }
    assertEquals(names, new ArrayList<>(read.tensors().keySet()), "header order is kept");
    assertTrue(names.contains("Gewicht.ü"));

    // numpy rounds float64 straight to float16; our writer must produce the very same bits from the same doubles.
    Path ours = dir.resolve("ours.safetensors");
    Safetensors.write(ours, Map.of("half", new Tensor(DType.FLOAT16, new long[] {halfSource.length}, halfSource)),
        Map.of());
    try (SafetensorsReader theirs = Safetensors.open(file); SafetensorsReader mine = Safetensors.open(ours)) {
      assertEquals(theirs.rawData("half"), mine.rawData("half"), "float16 bytes equal numpy's");
    }
  }

  // ------------------------------------------------------------------------------------------ corrupt files

  private Path rawFile(String name, long declaredHeaderLength, String header, int dataBytes) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(declaredHeaderLength).put(h);
    Path file = dir.resolve(name);
    Files.write(file, b.array());
    return file;
  }

  private Path rawFile(String name, String header, int dataBytes) throws IOException {
    return rawFile(name, header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
  }

  private static SafetensorsFormatException assertCorrupt(Path file, String tensor, String... fragments) {
    SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> Safetensors.read(file));
    String msg = e.getMessage();
    assertTrue(msg.startsWith(file.toString() + ":"), "message names the file: " + msg);
    for (String fragment : fragments) {
      assertTrue(msg.contains(fragment), "message should contain '" + fragment + "': " + msg);
    }
    assertEquals(Optional.ofNullable(tensor), e.tensor(), "tensor named by " + msg);
    if (tensor != null) {
      assertTrue(msg.contains("tensor \"" + tensor + "\""), msg);
    }
    return e;
  }

  private static String entry(String name, String dtype, String shape, long begin, long end) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
        + end + "]}";
  }

  @Test
  void missingFileIsNamed() {
    Path file = dir.resolve("absent.safetensors");
    NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Safetensors.read(file));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("does not exist"),
        e.getMessage());
  }

  @Test
  void tooShortForTheLengthPrefix() throws IOException {
    Path file = dir.resolve("tiny.safetensors");
    Files.write(file, new byte[] {1, 2, 3});
    assertCorrupt(file, null, "3 bytes, too short");
  }

  @Test
  void headerLengthLargerThanTheFile() throws IOException {
    assertCorrupt(rawFile("long.safetensors", 1000, "{}", 0), null, "header length 1000", "2 bytes that follow");
    // A negative u64 read as signed must not slip past the check.
    assertCorrupt(rawFile("huge.safetensors", -1, "{}", 0), null, "header length 18446744073709551615");
  }

  @Test
  void badJson() throws IOException {
    assertCorrupt(rawFile("trunc.safetensors", "{\"a\":{\"dtype\":\"F32\",", 0), null, "not valid JSON",
        "end of text");
    assertCorrupt(rawFile("float.safetensors", "{" + entry("a", "F32", "[1.5]", 0, 4) + "}", 4), null,
        "not valid JSON", "only integers");
    assertCorrupt(rawFile("dup.safetensors", "{" + entry("a", "F32", "[1]", 0, 4) + ","
        + entry("a", "F32", "[1]", 4, 8) + "}", 8), null, "duplicate key \"a\"");
    assertCorrupt(rawFile("array.safetensors", "[1, 2]", 0), null, "must be a JSON object");
    byte[] latin1 = "{\"\u00e9\":1}".getBytes(StandardCharsets.ISO_8859_1);
    Path file = dir.resolve("latin1.safetensors");
    Files.write(file, ByteBuffer.allocate(8 + latin1.length).order(ByteOrder.LITTLE_ENDIAN).putLong(latin1.length)
        .put(latin1).array());
    assertCorrupt(file, null, "not valid UTF-8");
  }

  @Test
  void unknownDtype() throws IOException {
    assertCorrupt(rawFile("u8.safetensors", "{" + entry("w", "U8", "[4]", 0, 4) + "}", 4), "w",
        "dtype \"U8\" is not supported", "F32");
  }

  @Test
  void offsetsOutOfRange() throws IOException {
    assertCorrupt(rawFile("range.safetensors", "{" + entry("w", "F32", "[4]", 0, 16) + "}", 8), "w",
        "out of range", "only 8 bytes");
    assertCorrupt(rawFile("backwards.safetensors", "{" + entry("w", "F32", "[1]", 8, 4) + "}", 8), "w",
        "begin <= end");
  }

  @Test
  void overlappingOffsets() throws IOException {
    assertCorrupt(rawFile("overlap.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + ","
        + entry("b", "F32", "[2]", 4, 12) + "}", 12), "b", "overlap", "tensor \"a\" [0, 8)");
  }

  @Test
  void offsetsNotCoveringTheBuffer() throws IOException {
    assertCorrupt(rawFile("gap.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + ","
        + entry("b", "F32", "[2]", 12, 20) + "}", 20), "b", "bytes [8, 12)", "belong to no tensor");
    assertCorrupt(rawFile("trailing.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + "}", 12), null,
        "has 12 bytes", "cover only 8");
  }

  @Test
  void shapeDisagreesWithOffsets() throws IOException {
    assertCorrupt(rawFile("size.safetensors", "{" + entry("w", "F32", "[3]", 0, 8) + "}", 8), "w",
        "needs 12 bytes", "span 8");
    assertCorrupt(rawFile("neg.safetensors", "{" + entry("w", "F32", "[-1]", 0, 0) + "}", 0), "w",
        "negative dimension");
  }

  @Test
  void malformedEntriesAndMetadata() throws IOException {
    assertCorrupt(rawFile("nodtype.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "w",
        "\"dtype\" must be a string");
    assertCorrupt(rawFile("offs.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
        "w", "\"data_offsets\" must have 2 entries");
    assertCorrupt(rawFile("meta.safetensors", "{\"__metadata__\":{\"step\":3}}", 0), null,
        "metadata value for \"step\" must be a string");
  }

  // --------------------------------------------------------------------------------------------- atomicity

  private List<String> filesIn(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void atomicWriteLeavesNoTemporaryFileAndReplacesTheOld() throws IOException {
    Path sub = Files.createDirectory(dir.resolve("ckpt"));
    Path file = sub.resolve("model.safetensors");
    Safetensors.write(file, Map.of("w", Tensor.scalar(DType.FLOAT32, 1)), Map.of("step", "1"));
    Safetensors.write(file, Map.of("w", Tensor.scalar(DType.FLOAT32, 2)), Map.of("step", "2"));
    assertEquals(List.of("model.safetensors"), filesIn(sub));
    SafetensorsFile read = Safetensors.read(file);
    assertEquals("2", read.metadata().get("step"));
    assertEquals(2.0, read.tensor("w").get(0));
  }

  @Test
  void failedWriteMidTensorLeavesTheExistingFileIntact() throws IOException {
    Path sub = Files.createDirectory(dir.resolve("ckpt"));
    Path file = sub.resolve("model.safetensors");
    Safetensors.write(file, everyDtype(), Map.of("step", "100"));
    byte[] before = Files.readAllBytes(file);

    // A source that fails after writing half of its bytes, as a native read or a full disk would.
    SafetensorsWriter failing = new SafetensorsWriter()
        .add("a", DType.FLOAT32, new long[] {4}, ByteBuffer.allocate(16))
        .add("b", DType.FLOAT32, new long[] {4}, out -> {
          out.write(ByteBuffer.allocate(8));
          throw new IOException("simulated device read failure");
        });
    IOException e = assertThrows(IOException.class, () -> failing.writeAtomically(file, Map.of("step", "200")));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("tensor \"b\"")
        && e.getMessage().contains("after 8 of 16 bytes") && e.getMessage().contains("simulated"), e.getMessage());
    assertArrayEquals(before, Files.readAllBytes(file));
    assertEquals(List.of("model.safetensors"), filesIn(sub));

    // A source that runs dry (buffer underflow) before supplying all of its bytes.
    SafetensorsWriter shortSource = new SafetensorsWriter()
        .add("b", DType.INT64, new long[] {3}, out -> out.write(ByteBuffer.allocate(16)));
    IOException underflow = assertThrows(IOException.class, () -> shortSource.writeAtomically(file, Map.of()));
    assertTrue(underflow.getMessage().contains("supplied only 16 of its 24 bytes"), underflow.getMessage());

    // A source that writes too much.
    SafetensorsWriter longSource = new SafetensorsWriter()
        .add("b", DType.INT64, new long[] {1}, out -> out.write(ByteBuffer.allocate(16)));
    IOException overrun = assertThrows(IOException.class, () -> longSource.writeAtomically(file, Map.of()));
    assertTrue(overrun.getMessage().contains("more than the 8 bytes"), overrun.getMessage());

    // A thread interrupt closes the channel mid-write (ClosedByInterruptException).
    SafetensorsWriter big = new SafetensorsWriter().add("x", DType.FLOAT64, new long[] {1 << 16},
        ByteBuffer.allocate(8 << 16));
    Thread.currentThread().interrupt();
    try {
      assertThrows(ClosedByInterruptException.class, () -> big.writeAtomically(file, Map.of()));
    } finally {
      Thread.interrupted();
    }
    assertArrayEquals(before, Files.readAllBytes(file));
    assertEquals(List.of("model.safetensors"), filesIn(sub));
    assertEquals("100", Safetensors.read(file).metadata().get("step"));
  }

  @Test
  void writingIntoAMissingDirectoryFailsClearly() {
    Path file = dir.resolve("no/such/dir/model.safetensors");
    IOException e = assertThrows(IOException.class,
        () -> Safetensors.write(file, Map.of("w", Tensor.scalar(DType.FLOAT32, 1)), Map.of()));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("does not exist"),
        e.getMessage());
    assertFalse(Files.exists(dir.resolve("no")));
  }
}
