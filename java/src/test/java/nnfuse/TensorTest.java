package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tensor: allocation, copies, element access, ownership and use after close, and .npy files shared with numpy. */
class TensorTest {
    @Test
    void allocationIsAlignedZeroedAndShaped() {
        try (Tensor t = Tensor.zeros(Device.CPU, 3, 5, 7)) {
            assertEquals(0, t.segment().address() % Tensor.ALIGNMENT);
            assertArrayEquals(new long[] {3, 5, 7}, t.shape());
            assertEquals(105, t.numel());
            assertEquals(3, t.rank());
            assertEquals(7, t.size(-1));
            assertEquals(DType.FLOAT32, t.dtype());
            assertEquals(Device.CPU, t.device());
            assertArrayEquals(new float[105], t.toFloatArray());
        }
    }

    @Test
    void copiesAndElementAccessAreRowMajor() {
        float[] data = {1, 2, 3, 4, 5, 6};
        try (Tensor t = Tensor.of(data, 2, 3)) {
            assertEquals(6f, t.get(1, 2));
            assertEquals(2f, t.get(0, 1));
            t.set(-1f, 1, 0);
            assertArrayEquals(new float[] {1, 2, 3, -1, 5, 6}, t.toFloatArray());
            t.copyFrom(new float[] {6, 5, 4, 3, 2, 1});
            assertEquals(4f, t.get(0, 2));
            t.fill(0.5f);
            assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, t.toFloatArray());
            data[0] = 99;
            assertEquals(0.5f, t.get(0, 0), "of() copies its input");
        }
        try (Tensor labels = Tensor.ofLongs(new long[] {3, 1, 4}, 3)) {
            assertEquals(DType.INT64, labels.dtype());
            assertArrayEquals(new long[] {3, 1, 4}, labels.toLongArray());
            assertEquals(4L, labels.getLong(2));
        }
    }

    @Test
    void badShapesAndIndicesAreRejected() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 0)), "[2, 0]");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.zeros()), "at least one dimension");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[5], 2, 3)),
                "5 elements", "[2, 3]", "6");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(1L << 40, 1L << 40)), "too many elements");
        try (Tensor t = Tensor.zeros(2, 3)) {
            assertMessage(assertThrows(IndexOutOfBoundsException.class, () -> t.get(2, 0)), "[2, 0]", "[2, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> t.get(1)), "2 indices");
            assertMessage(assertThrows(IllegalArgumentException.class, t::toLongArray), "int64", "float32[2, 3]");
        }
    }

    @Test
    void useAfterCloseThrows() {
        Tensor t = Tensor.zeros(4);
        t.close();
        t.close();
        assertTrue(t.isClosed());
        assertMessage(assertThrows(IllegalStateException.class, t::toFloatArray), "closed");
        assertMessage(assertThrows(IllegalStateException.class, () -> t.get(0)), "closed");
        assertMessage(assertThrows(IllegalStateException.class, () -> t.set(1f, 0)), "closed");
        assertMessage(assertThrows(IllegalStateException.class, t::segment), "closed");
        assertEquals("Tensor(" + t.describe() + ", closed)", t.toString());
    }

    @Test
    void borrowedTensorsFollowTheirArena() {
        Tensor t;
        try (Arena arena = Arena.ofConfined()) {
            t = Tensor.zeros(arena, 2, 2);
            Tensor u = Tensor.zeros(arena, 2);
            u.close();
            assertTrue(u.isClosed());
            assertFalse(t.isClosed(), "closing one borrowed tensor leaves the arena's others alone");
            t.set(3f, 1, 1);
        }
        assertTrue(t.isClosed());
        assertMessage(assertThrows(IllegalStateException.class, () -> t.get(1, 1)), "arena", "closed");
    }

    /** The fixture was written by numpy (java/src/test/resources/npy/make_fixtures.py). */
    @Test
    void loadsWhatNumpyWrote() throws IOException, URISyntaxException {
        try (Tensor t = Tensor.load(fixture("f32_2x3.npy"))) {
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertArrayEquals(new float[] {-0.0f, 1, 2, 3, (float) 1e-38, (float) 3.4e38}, t.toFloatArray());
        }
        try (Tensor t = Tensor.load(fixture("f64_4.npy"))) {
            assertArrayEquals(new float[] {(float) 0.1, (float) (1.0 / 3), (float) (2.0 / 3), (float) -1e-7},
                    t.toFloatArray());
        }
        try (Tensor t = Tensor.load(fixture("i64_3.npy"))) {
            assertEquals(DType.INT64, t.dtype());
            assertArrayEquals(new long[] {0, 1, 2}, t.toLongArray());
        }
        IOException e = assertThrows(IOException.class, () -> Tensor.load(fixture("big_endian.npy")));
        assertTrue(e.getMessage().contains("big_endian.npy"), e.getMessage());
    }

    @Test
    void int64RoundTrips(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("labels.npy");
        long[] values = {Long.MIN_VALUE, -1, 0, 7, Long.MAX_VALUE, 1L << 40};
        try (Tensor t = Tensor.ofLongs(values, 2, 3)) {
            t.save(file);
        }
        try (Tensor back = Tensor.load(file)) {
            assertEquals(DType.INT64, back.dtype());
            assertArrayEquals(new long[] {2, 3}, back.shape());
            assertArrayEquals(values, back.toLongArray());
        }
    }

    @Test
    void numpyLoadsWhatTensorWrote(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("t.npy");
        try (Tensor t = Tensor.of(new float[] {1.5f, -2, 0.25f, 8, 1e-3f, -0.0f}, 3, 2)) {
            t.save(file);
        }
        try (Tensor back = Tensor.load(file)) {
            assertArrayEquals(new float[] {1.5f, -2, 0.25f, 8, 1e-3f, -0.0f}, back.toFloatArray());
        }
        String script = "import numpy as np; a = np.load(r'" + file + "'); "
                + "print(a.dtype, a.shape, ' '.join(repr(float(v)) for v in a.ravel()))";
        Process p;
        try {
            p = new ProcessBuilder("python3", "-c", script).redirectErrorStream(true).start();
        } catch (IOException missing) {
            Assumptions.abort("python3 is not installed");
            return;
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        Assumptions.assumeFalse(out.contains("No module named 'numpy'"), "numpy is not installed");
        assertEquals("float32 (3, 2) 1.5 -2.0 0.25 8.0 " + (double) 1e-3f + " -0.0", out);
    }

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(TensorTest.class.getResource("/npy/" + name).toURI());
    }
}
