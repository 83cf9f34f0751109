package nnfuse.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import nnfuse.DType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Npy against the fixtures of src/test/resources/npy/make_fixtures.py (expected
 * values typed from its definitions), hand-built headers, round trips, and
 * numpy itself reading what Npy writes.
 */
class NpyTest {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void readsFloat32Matrix() throws IOException {
        float[] expected = {-0.0f, 1, 2, 3, (float) 1e-38, (float) 3.4e38};
        try (Arena arena = Arena.ofConfined()) {
            Npy.Array a = Npy.read(fixture("f32_2x3.npy"), arena);
            assertArrayEquals(new long[] {2, 3}, a.shape());
            assertArrayEquals(expected, floats(a));
            assertEquals(0, a.data().address() % 64, "data segment is 64-byte aligned");
        }
    }

    @Test
    void readsFromStream() throws IOException {
        float[] expected = {-0.0f, 1, 2, 3, (float) 1e-38, (float) 3.4e38};
        try (Arena arena = Arena.ofConfined(); InputStream in = resource("f32_2x3.npy").openStream()) {
            Npy.Array a = Npy.read(in, arena);
            assertArrayEquals(new long[] {2, 3}, a.shape());
            assertArrayEquals(expected, floats(a));
        }
    }

    @Test
    void roundsFloat64ToNearestFloat32() throws IOException {
        float[] expected = {(float) 0.1, (float) (1.0 / 3), (float) (2.0 / 3), (float) -1e-7};
        try (Arena arena = Arena.ofConfined()) {
            Npy.Array a = Npy.read(fixture("f64_4.npy"), arena);
            assertArrayEquals(new long[] {4}, a.shape());
            assertArrayEquals(expected, floats(a));
        }
    }

    @Test
    void readsVersion2Header() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(2, Files.readAllBytes(fixture("f32_v2.npy"))[6], "fixture is format 2.0");
            Npy.Array a = Npy.read(fixture("f32_v2.npy"), arena);
            assertArrayEquals(new long[] {2, 2}, a.shape());
            assertArrayEquals(new float[] {0, 0.5f, 1, 1.5f}, floats(a));
        }
    }

    @Test
    void readsLargeFloat64InChunks(@TempDir Path dir) throws IOException {
        int n = 300_000;
        ByteBuffer doubles = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
        float[] expected = new float[n];
        for (int i = 0; i < n; i++) {
            doubles.putDouble(i * 0.1);
            expected[i] = (float) (i * 0.1);
        }
        byte[] bytes = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (300000,), }", doubles.array());
        Path file = dir.resolve("big.npy");
        Files.write(file, bytes);
        try (Arena arena = Arena.ofConfined()) {
            assertArrayEquals(expected, floats(Npy.read(file, arena)));
            assertArrayEquals(expected, floats(Npy.read(new ByteArrayInputStream(bytes), arena)));
        }
    }

    @Test
    void readsScalar() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Npy.Array a = Npy.read(fixture("scalar_f32.npy"), arena);
            assertArrayEquals(new long[0], a.shape());
            assertEquals(1, a.elementCount());
            assertArrayEquals(new float[] {2.5f}, floats(a));
        }
    }

    @Test
    void readsInt64() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Npy.Array a = Npy.read(fixture("i64_3.npy"), arena);
            assertEquals(DType.INT64, a.dtype());
            assertArrayEquals(new long[] {3}, a.shape());
            assertArrayEquals(new long[] {0, 1, 2}, a.data().toArray(I64_LE));
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "big_endian.npy | big-endian descr '>f4'",
        "fortran.npy    | fortran_order True",
    })
    void rejectsUnsupportedFixtures(String name, String problem) {
        IOException e = assertThrows(IOException.class, () -> readAndClose(fixture(name)));
        assertTrue(e.getMessage().contains(name), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
    }

    @Test
    void rejectsTruncatedData(@TempDir Path dir) throws IOException {
        byte[] full = Files.readAllBytes(fixture("f32_2x3.npy"));
        Path file = dir.resolve("short.npy");
        Files.write(file, Arrays.copyOf(full, full.length - 1));
        IOException e = assertThrows(IOException.class, () -> readAndClose(file));
        assertTrue(e.getMessage().contains("short.npy: truncated data: shape (2, 3) needs 24 bytes, only 23"),
                e.getMessage());
        IOException s = assertThrows(IOException.class,
                () -> readAndClose(new ByteArrayInputStream(Arrays.copyOf(full, full.length - 5))));
        assertTrue(s.getMessage().contains("truncated data"), s.getMessage());
    }

    @Test
    void rejectsTruncatedFloat64Data() throws IOException {
        byte[] full = Files.readAllBytes(fixture("f64_4.npy"));
        IOException e = assertThrows(IOException.class,
                () -> readAndClose(new ByteArrayInputStream(Arrays.copyOf(full, full.length - 3))));
        assertTrue(e.getMessage().contains("needs 32 bytes, only 29"), e.getMessage());
    }

    @Test
    void rejectsBadMagic(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("text.npy");
        Files.writeString(file, "NUMPY? no, just a text file\n");
        IOException e = assertThrows(IOException.class, () -> readAndClose(file));
        assertTrue(e.getMessage().contains("text.npy: bad magic string"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
        "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
        "{ \"descr\" :\"<f4\",\n\t'fortran_order':False ,'shape':( 3 , ) }",
        "{'fortran_order': False, 'shape': (3L,), 'descr': '<f4', }",
    })
    void parsesHeaderVariants(String header) throws IOException {
        for (int major = 1; major <= 3; major++) {
            Npy.Array a = readBytes(npy(major, header, floatBytes(1, 2, 3)));
            assertArrayEquals(new long[] {3}, a.shape());
            assertArrayEquals(new float[] {1, 2, 3}, floats(a));
        }
    }

    @ParameterizedTest
    @CsvSource(delimiterString = "->", quoteCharacter = '"', value = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }  -> negative dimension -1",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), } -> non-integer dimension 2.5",
        "{'descr': '<f4', 'fortran_order': False, 'shape': ('3',), } -> non-integer dimension '3'",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [3], }    -> shape is not a tuple: [3]",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }    -> shape is not a tuple: 3",
        "{'descr': '<f4', 'fortran_order': False, }                  -> header has no 'shape' key",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }       -> fortran_order is not a bool: 0",
        "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }   -> unsupported descr '<f2'",
        "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }   -> unsupported descr '<i4'",
        "{'descr': '>i8', 'fortran_order': False, 'shape': (3,), }   -> big-endian descr '>i8'",
        "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }    -> unsupported descr '|O'",
        "{'descr': '=f4', 'fortran_order': False, 'shape': (3,), }   -> unsupported descr '=f4'",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), } -> unsupported descr [('a', '<f4')]",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1} -> unexpected header key 'x'",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)          -> cannot parse header",
        "('<f4', False, (3,))                                        -> header is not a dictionary",
    })
    void rejectsBadHeaders(String header, String problem) {
        IOException e = assertThrows(IOException.class, () -> readBytes(npy(1, header, floatBytes(1, 2, 3))));
        assertTrue(e.getMessage().startsWith("<stream>: "), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
    }

    @Test
    void rejectsUnknownVersion() {
        byte[] bytes = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", floatBytes(1, 2, 3));
        bytes[6] = 4;
        IOException e = assertThrows(IOException.class, () -> readBytes(bytes));
        assertTrue(e.getMessage().contains("unsupported .npy format version 4.0"), e.getMessage());
    }

    @Test
    void readsNpz() throws IOException {
        for (String name : List.of("params.npz", "params_compressed.npz")) {
            try (Arena arena = Arena.ofConfined()) {
                Map<String, Npy.Array> arrays = Npy.readNpz(fixture(name), arena);
                assertEquals(List.of("fc1.weight", "fc1.bias"), List.copyOf(arrays.keySet()), name);
                assertArrayEquals(new long[] {3, 2}, arrays.get("fc1.weight").shape(), name);
                assertArrayEquals(new float[] {-0.5f, -0.25f, 0, 0.25f, 0.5f, 0.75f},
                        floats(arrays.get("fc1.weight")), name);
                assertArrayEquals(new long[] {3}, arrays.get("fc1.bias").shape(), name);
                assertArrayEquals(new float[] {(float) 0.1, (float) -0.2, (float) 0.3},
                        floats(arrays.get("fc1.bias")), name);
            }
        }
    }

    @Test
    void rejectsNpzThatIsNotZip() {
        IOException e = assertThrows(IOException.class, () -> Npy.readNpz(fixture("f32_2x3.npy"), Arena.global()));
        assertTrue(e.getMessage().contains("f32_2x3.npy: not a readable .npz"), e.getMessage());
    }

    @Test
    void roundTripsNpy(@TempDir Path dir) throws IOException {
        for (long[] shape : List.of(new long[0], new long[] {0}, new long[] {5}, new long[] {2, 3, 4},
                new long[] {1, 0, 7}, new long[] {3, 300_000})) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment data = pattern(arena, shape);
                Path file = dir.resolve("rt.npy");
                Npy.write(file, shape, data);
                Npy.Array a = Npy.read(file, arena);
                assertArrayEquals(shape, a.shape());
                assertEquals(-1, data.mismatch(a.data()), Arrays.toString(shape));
                assertHeaderAligned(Files.readAllBytes(file), data.byteSize());
            }
        }
    }

    @Test
    void streamAndFileWritersAgree(@TempDir Path dir) throws IOException {
        long[] shape = {3, 5};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = pattern(arena, shape);
            Path file = dir.resolve("a.npy");
            Npy.write(file, shape, data);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Npy.write(out, shape, data);
            assertArrayEquals(Files.readAllBytes(file), out.toByteArray());
        }
    }

    @Test
    void writesVersion2WhenHeaderExceeds65535Bytes(@TempDir Path dir) throws IOException {
        long[] shape = new long[30_000];
        Arrays.fill(shape, 1);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocateFrom(F32_LE, 7.5f);
            Path file = dir.resolve("deep.npy");
            Npy.write(file, shape, data);
            byte[] bytes = Files.readAllBytes(file);
            assertEquals(2, bytes[6]);
            assertHeaderAligned(bytes, 4);
            Npy.Array a = Npy.read(file, arena);
            assertArrayEquals(shape, a.shape());
            assertArrayEquals(new float[] {7.5f}, floats(a));
        }
    }

    @Test
    void rejectsDataOfWrongSize() {
        MemorySegment data = Arena.ofAuto().allocate(8);
        assertThrows(IllegalArgumentException.class,
                () -> Npy.write(new ByteArrayOutputStream(), new long[] {3}, data));
        assertThrows(IllegalArgumentException.class, () -> new Npy.Array(new long[] {-2}, data));
        assertThrows(IllegalArgumentException.class, () -> new Npy.Array(new long[] {2}, data, DType.INT64));
    }

    @Test
    void roundTripsNpz(@TempDir Path dir) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Npy.Array> arrays = new LinkedHashMap<>();
            arrays.put("layer.weight", new Npy.Array(new long[] {4, 3}, pattern(arena, new long[] {4, 3})));
            arrays.put("scalar", new Npy.Array(new long[0], pattern(arena, new long[0])));
            arrays.put("empty", new Npy.Array(new long[] {0}, pattern(arena, new long[] {0})));
            arrays.put("count", new Npy.Array(new long[0], arena.allocateFrom(I64_LE, 1L << 40), DType.INT64));
            Path file = dir.resolve("rt.npz");
            Npy.writeNpz(file, arrays);
            Map<String, Npy.Array> back = Npy.readNpz(file, arena);
            assertEquals(List.copyOf(arrays.keySet()), List.copyOf(back.keySet()));
            for (String name : arrays.keySet()) {
                assertArrayEquals(arrays.get(name).shape(), back.get(name).shape(), name);
                assertEquals(arrays.get(name).dtype(), back.get(name).dtype(), name);
                assertEquals(-1, arrays.get(name).data().mismatch(back.get(name).data()), name);
            }
        }
    }

    @Test
    void numpyReadsWhatNpyWrites(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(numpyAvailable(), "python3 with numpy is not installed");
        float[] values = {-0.0f, 1.5f, Float.MIN_VALUE, -Float.MAX_VALUE, (float) 0.1, Float.NaN};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocateFrom(F32_LE, values);
            Npy.write(dir.resolve("m.npy"), new long[] {2, 3}, data);
            Npy.write(dir.resolve("v.npy"), new long[] {6}, data);
            Npy.write(dir.resolve("s.npy"), new long[0], data.asSlice(4, 4));
            Map<String, Npy.Array> arrays = new LinkedHashMap<>();
            arrays.put("fc1.weight", new Npy.Array(new long[] {3, 2}, data));
            arrays.put("fc1.bias", new Npy.Array(new long[] {2}, data.asSlice(0, 8)));
            arrays.put("bn.num_batches_tracked",
                    new Npy.Array(new long[0], arena.allocateFrom(I64_LE, 3), DType.INT64));
            Npy.writeNpz(dir.resolve("p.npz"), arrays);
            Npy.write(dir.resolve("i.npy"), new Npy.Array(new long[] {2},
                    arena.allocateFrom(I64_LE, -5, Long.MAX_VALUE), DType.INT64));
        }
        String bits = bitsList(values);
        List<String> expected = List.of(
                "m.npy <f4 (2, 3) " + bits + " same-as-np.save=True",
                "v.npy <f4 (6,) " + bits + " same-as-np.save=True",
                "s.npy <f4 () [" + Float.floatToRawIntBits(1.5f) + "] same-as-np.save=True",
                "p.npz:fc1.weight <f4 (3, 2) " + bits,
                "p.npz:fc1.bias <f4 (2,) " + bitsList(Arrays.copyOf(values, 2)),
                "p.npz:bn.num_batches_tracked <i8 () [3]",
                "i.npy <i8 (2,) [-5, " + Long.MAX_VALUE + "] same-as-np.save=True");
        assertEquals(expected, runNumpy(dir, "m.npy", "v.npy", "s.npy", "p.npz", "i.npy"));
    }

    private static final String NUMPY_DUMP = """
            import io, sys
            import numpy as np
            def show(name, a):
                bits = a.reshape(-1) if a.dtype.kind == 'i' else a.reshape(-1).view('<u4')
                print(name, a.dtype.str, a.shape, bits.tolist(), end='')
            for name in sys.argv[1:]:
                if name.endswith('.npz'):
                    with np.load(name) as z:
                        for key in z.files:
                            show(name + ':' + key, z[key])
                            print()
                else:
                    a = np.load(name)
                    show(name, a)
                    buf = io.BytesIO()
                    np.save(buf, a)
                    with open(name, 'rb') as f:
                        print(' same-as-np.save=' + str(buf.getvalue() == f.read()))
            """;

    private static List<String> runNumpy(Path dir, String... files) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("python3", "-c", NUMPY_DUMP));
        command.addAll(List.of(files));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python3 timed out");
        assertEquals(0, p.exitValue(), output);
        return output.lines().toList();
    }

    private static boolean numpyAvailable() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import numpy").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static String bitsList(float[] values) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(Integer.toUnsignedString(Float.floatToRawIntBits(values[i])));
        }
        return sb.append(']').toString();
    }

    /** numpy format spec: the data offset is a multiple of 64 and the header ends with '\n'. */
    private static void assertHeaderAligned(byte[] file, long dataBytes) {
        int dataOffset = (int) (file.length - dataBytes);
        assertEquals(0, dataOffset % 64, "data offset " + dataOffset);
        assertEquals('\n', file[dataOffset - 1]);
    }

    private static MemorySegment pattern(Arena arena, long[] shape) {
        long n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
        MemorySegment data = arena.allocate(n * 4, 64);
        for (long i = 0; i < n; i++) {
            data.setAtIndex(F32_LE, i, i * 0.37f - 2);
        }
        return data;
    }

    private static byte[] npy(int major, String header, byte[] data) {
        byte[] text = header.getBytes(StandardCharsets.UTF_8);
        int lengthBytes = major == 1 ? 2 : 4;
        int pad = 64 - (8 + lengthBytes + text.length + 1) % 64;
        int hlen = text.length + pad + 1;
        ByteBuffer b = ByteBuffer.allocate(8 + lengthBytes + hlen + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            b.putShort((short) hlen);
        } else {
            b.putInt(hlen);
        }
        b.put(text).put(" ".repeat(pad).getBytes(StandardCharsets.US_ASCII)).put((byte) '\n').put(data);
        return b.array();
    }

    private static byte[] floatBytes(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    private static Npy.Array readBytes(byte[] bytes) throws IOException {
        return Npy.read(new ByteArrayInputStream(bytes), Arena.ofAuto());
    }

    private static void readAndClose(Path file) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Npy.read(file, arena);
        }
    }

    private static void readAndClose(InputStream in) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Npy.read(in, arena);
        }
    }

    private static float[] floats(Npy.Array a) {
        return a.data().toArray(F32_LE);
    }

    private static URL resource(String name) {
        URL url = NpyTest.class.getResource("/npy/" + name);
        assertTrue(url != null, "missing test resource npy/" + name + "; run make_fixtures.py");
        return url;
    }

    private static Path fixture(String name) {
        try {
            return Path.of(resource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
