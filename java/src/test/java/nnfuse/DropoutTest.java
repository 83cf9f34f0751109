package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.bindings.nnfuse_h;
import nnfuse.random.Philox4x32;
import nnfuse.reference.DropoutReference;
import nnfuse.testing.AtEachCpuLevel;
import nnfuse.testing.CpuLevels;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.PhiloxFixture;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Dropout forward and mask: native against the pure-Java reference, masks
 * against an independent numpy Philox fixture, the worksheet's Section 4, the
 * edge probabilities, stream continuity, thread-count independence, bad
 * input, and the CUDA kernels' masks against the CPU backend's, at each CPU
 * level this machine supports ({@link CpuLevels}; the Philox words are integer
 * arithmetic, the same at every level).
 *
 * <p>Tolerances: none. The mask is a comparison of one float per element, and
 * a kept output is x itself or one float product x * (1 / (1 - p)), with
 * 1 - p and 1 / (1 - p) each rounded once to float; there is nothing for two
 * correct implementations to disagree on, so masks are compared with
 * {@link Tolerance#assertExact} and outputs with
 * {@link Tolerance#assertBitIdentical}. The statistical checks (kept fraction,
 * the worksheet's expectation) bound a sample mean by 5 standard errors; the
 * seeds are fixed, so they are deterministic and cannot flake, and the bound
 * only shows that the generator is not visibly biased.
 */
class DropoutTest extends AtEachCpuLevel {
    private static final float[] PS = {0f, 0.1f, 0.5f, 0.75f, 0.999f, 1f};
    /**
     * Block-aligned and not; across 2^32 (the index's low word wraps); across 2^34, where the block counter
     * index / 4 reaches 2^32 and its high word starts; beyond that; and near 2^64.
     */
    private static final long[] OFFSETS = {0, 1, 2, 3, 5, (1L << 32) - 2, (1L << 34) - 2, 0x123456789BL, -5001L};
    private static final int ONE_BITS = Float.floatToRawIntBits(1f);
    /** Both key words nonzero. */
    private static final long SEED = 0x0123456789ABCDEFL;

    static Stream<Arguments> sizesAndOffsets() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int n : TestData.AWKWARD_SIZES) {
            for (long offset : OFFSETS) {
                b.add(Arguments.of(n, offset));
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "n {0}, offset {1}")
    @MethodSource("sizesAndOffsets")
    void matchesReference(int n, long offset) {
        float[] x = TestData.normal(n + offset, n, 0, 1);
        String what = "[n " + n + ", offset " + Long.toUnsignedString(offset) + "]";
        for (float p : PS) {
            try (Tensor m = DropoutOps.mask(new long[] {n}, p, SEED, offset)) {
                Tolerance.assertExact("dropout mask " + what + " [p " + p + "]",
                        longs(DropoutReference.mask(n, p, SEED, offset)), longs(m.toFloatArray()));
            }
            for (boolean inverted : new boolean[] {true, false}) {
                try (Tensor xt = Tensor.of(x, n); Tensor y = DropoutOps.forward(xt, p, inverted, SEED, offset)) {
                    Tolerance.assertBitIdentical("dropout y " + what + " p " + p + " inverted " + inverted,
                            DropoutReference.forward(x, p, inverted, SEED, offset), y.toFloatArray());
                }
            }
        }
    }

    /**
     * The fixture's draws come from a numpy Philox driven by cuRAND's state
     * machine ({@link PhiloxFixture}); here they become masks by the formulas
     * of the issue, written out: u = x * 2^-32 + 2^-33 in float
     * (curand_uniform), kept when u < 1 - p.
     */
    @Test
    void maskMatchesIndependentNumpyFixture() throws IOException {
        for (PhiloxFixture.Block block : PhiloxFixture.read()) {
            for (float p : new float[] {0.1f, 0.5f, 0.75f, 0.999f}) {
                long[] expected = new long[block.count()];
                for (int i = 0; i < expected.length; i++) {
                    float u = (float) block.values().get(i) * 0x1p-32f + 0x1p-33f;
                    expected[i] = u < 1f - p ? 1 : 0;
                }
                try (Tensor m = DropoutOps.mask(new long[] {block.count()}, p, block.seed(), block.offset())) {
                    Tolerance.assertExact("dropout mask vs numpy fixture [seed " + block.seed() + " offset "
                            + block.offset() + " p " + p + "]", expected, longs(m.toFloatArray()));
                }
            }
        }
    }

    /** PyTorch returns the input itself when p == 0: signed zeros, NaN payloads and infinities survive. */
    @Test
    void pZeroIsTheExactIdentity() {
        float[] x = specialValues();
        for (boolean inverted : new boolean[] {true, false}) {
            try (Tensor xt = Tensor.of(x, x.length); Tensor y = DropoutOps.forward(xt, 0f, inverted, SEED, 3)) {
                Tolerance.assertBitIdentical("dropout p 0 y", x, y.toFloatArray());
                DropoutOps.forward(xt, xt, 0f, inverted, SEED, 3);
                Tolerance.assertBitIdentical("dropout p 0 in place", x, xt.toFloatArray());
            }
        }
        try (Tensor m = DropoutOps.mask(new long[] {4097}, 0f, SEED, 1)) {
            float[] ones = new float[4097];
            Arrays.fill(ones, 1f);
            Tolerance.assertBitIdentical("dropout p 0 mask", ones, m.toFloatArray());
        }
    }

    /**
     * Draw 66749999 of seed 42 is 0xFFFFFF88 (checked against the numpy
     * generator of make_fixture.py too), whose curand_uniform is exactly 1.0f:
     * u < 1 - 0 would drop it, but p = 0 keeps everything; a p so small that
     * 1 - p rounds to 1.0f drops exactly such draws, as PyTorch's CUDA dropout would.
     */
    @Test
    void uniformOfExactlyOneIsKeptOnlyAtPZero() {
        long index = 66_749_999L;
        assertEquals(0xFFFFFF88, Philox4x32.draw(42, index));
        assertEquals(1f, Philox4x32.uniform(Philox4x32.draw(42, index)));
        assertEquals(1f, 1f - 1e-9f);
        float[] x = {-2.5f};
        try (Tensor xt = Tensor.of(x, 1)) {
            assertMask(1f, 0f, 42, index);
            assertMask(0f, 1e-9f, 42, index);
            try (Tensor y = DropoutOps.forward(xt, 0f, true, 42, index)) {
                Tolerance.assertBitIdentical("dropout p 0 at u = 1", x, y.toFloatArray());
            }
            try (Tensor y = DropoutOps.forward(xt, 1e-9f, true, 42, index)) {
                Tolerance.assertBitIdentical("dropout p 1e-9 at u = 1", new float[] {0f}, y.toFloatArray());
            }
        }
    }

    /** p = 1 drops everything: +0.0 even for NaN, infinite and negative inputs, and no 0 * inf NaN when inverted. */
    @Test
    void pOneGivesZeros() {
        float[] x = specialValues();
        float[] zeros = new float[x.length];
        for (boolean inverted : new boolean[] {true, false}) {
            try (Tensor xt = Tensor.of(x, x.length); Tensor y = DropoutOps.forward(xt, 1f, inverted, SEED, 0)) {
                Tolerance.assertBitIdentical("dropout p 1 y inverted " + inverted, zeros, y.toFloatArray());
            }
        }
        try (Tensor m = DropoutOps.mask(new long[] {x.length}, 1f, SEED, 0)) {
            Tolerance.assertBitIdentical("dropout p 1 mask", zeros, m.toFloatArray());
        }
    }

    /** Inverted dropout multiplies kept units by 1 / (1 - p) rounded once to float; plain dropout leaves them alone. */
    @Test
    void keptUnitsAreScaledOnceOrLeftAlone() {
        int n = 4097;
        float[] x = TestData.normal(17, n, 0, 3);
        for (float p : new float[] {0.1f, 0.3f, 0.5f, 0.75f, 0.999f}) {
            float scale = 1f / (1f - p);
            try (Tensor xt = Tensor.of(x, n);
                    Tensor m = DropoutOps.mask(new long[] {n}, p, SEED, 7);
                    Tensor inverted = DropoutOps.forward(xt, p, true, SEED, 7);
                    Tensor plain = DropoutOps.forward(xt, p, false, SEED, 7)) {
                float[] mask = m.toFloatArray();
                float[] expectInverted = new float[n];
                float[] expectPlain = new float[n];
                for (int i = 0; i < n; i++) {
                    expectInverted[i] = mask[i] == 1f ? x[i] * scale : 0f;
                    expectPlain[i] = mask[i] == 1f ? x[i] : 0f;
                }
                Tolerance.assertBitIdentical("dropout inverted scaling p " + p, expectInverted,
                        inverted.toFloatArray());
                Tolerance.assertBitIdentical("dropout plain keeps x p " + p, expectPlain, plain.toFloatArray());
            }
        }
    }

    /** Two calls with offsets o and o + n continue one stream: together they are one call of length 2n at o. */
    @Test
    void consecutiveOffsetsContinueOneStream() {
        for (int n : new int[] {1, 3, 7, 33, 4097}) {
            for (long o : new long[] {0, 1, 3, 5, (1L << 34) - 3}) {
                float[] x = TestData.normal(n, 2 * n, 0, 1);
                try (Tensor whole = DropoutOps.mask(new long[] {2 * n}, 0.5f, SEED, o);
                        Tensor first = DropoutOps.mask(new long[] {n}, 0.5f, SEED, o);
                        Tensor second = DropoutOps.mask(new long[] {n}, 0.5f, SEED, o + n);
                        Tensor xt = Tensor.of(x, 2 * n);
                        Tensor x1 = Tensor.of(Arrays.copyOfRange(x, 0, n), n);
                        Tensor x2 = Tensor.of(Arrays.copyOfRange(x, n, 2 * n), n);
                        Tensor yWhole = DropoutOps.forward(xt, 0.5f, true, SEED, o);
                        Tensor y1 = DropoutOps.forward(x1, 0.5f, true, SEED, o);
                        Tensor y2 = DropoutOps.forward(x2, 0.5f, true, SEED, o + n)) {
                    String what = " [n " + n + " o " + o + "]";
                    Tolerance.assertExact("dropout mask stream continuity" + what, longs(whole.toFloatArray()),
                            longs(concat(first.toFloatArray(), second.toFloatArray())));
                    Tolerance.assertBitIdentical("dropout y stream continuity" + what, yWhole.toFloatArray(),
                            concat(y1.toFloatArray(), y2.toFloatArray()));
                }
            }
        }
    }

    @Test
    void sameResultWhateverTheThreadCount() {
        int n = (1 << 20) + 3;
        float[] x = TestData.normal(23, n, 0, 1);
        float[] expectedY = DropoutReference.forward(x, 0.3f, true, SEED, 5);
        long[] expectedMask = longs(DropoutReference.mask(n, 0.3f, SEED, 5));
        int previous = Nnfuse.threads();
        try (Tensor xt = Tensor.of(x, n)) {
            for (int threads : new int[] {1, 2, 4}) {
                Nnfuse.setThreads(threads);
                try (Tensor y = DropoutOps.forward(xt, 0.3f, true, SEED, 5);
                        Tensor m = DropoutOps.mask(new long[] {n}, 0.3f, SEED, 5)) {
                    Tolerance.assertBitIdentical("dropout y with " + threads + " threads", expectedY, y.toFloatArray());
                    Tolerance.assertExact("dropout mask [" + threads + " threads]", expectedMask,
                            longs(m.toFloatArray()));
                }
            }
        } finally {
            Nnfuse.setThreads(previous);
        }
    }

    /** Kept count ~ Binomial(n, 1 - p); fixed seeds make this deterministic, 5 sigma shows no visible bias. */
    @Test
    void keptFractionIsNearOneMinusP() {
        int n = 1_000_000;
        for (float p : new float[] {0.1f, 0.5f, 0.75f, 0.999f}) {
            try (Tensor m = DropoutOps.mask(new long[] {n}, p, 2014, 0)) {
                double kept = 0;
                for (float v : m.toFloatArray()) {
                    kept += v;
                }
                double sigma = Math.sqrt(p * (1.0 - p) / n);
                double fraction = kept / n;
                assertTrue(Math.abs(fraction - (1 - p)) <= 5 * sigma,
                        "p " + p + ": kept fraction " + fraction + ", expected " + (1 - p) + " +- 5 * " + sigma);
            }
        }
    }

    /**
     * Discussion 04, Section 4 (a) to (c): x = [2, 6, 4, 4, 5, 3, 4, 4],
     * w = ones, p = 0.75, with the first six units dropped. Seed 8 at offset 0
     * draws exactly that mask (found by search, and checked against the numpy
     * generator of make_fixture.py); y_drop = 8, y_corr = 32, y_orig = 32.
     */
    @Test
    void worksheetSection4Example() {
        float[] x = {2, 6, 4, 4, 5, 3, 4, 4};
        try (Tensor xt = Tensor.of(x, 8);
                Tensor m = DropoutOps.mask(new long[] {8}, 0.75f, 8, 0);
                Tensor plain = DropoutOps.forward(xt, 0.75f, false, 8, 0);
                Tensor corrected = DropoutOps.forward(xt, 0.75f, true, 8, 0)) {
            Tolerance.assertExact("dropout worksheet mask", new long[] {0, 0, 0, 0, 0, 0, 1, 1},
                    longs(m.toFloatArray()));
            assertEquals(8.0, dotWithOnes(plain.toFloatArray()), "y_drop");
            assertEquals(32.0, dotWithOnes(corrected.toFloatArray()), "y_corr");
            assertEquals(32.0, dotWithOnes(x), "y_orig");
            Tolerance.assertBitIdentical("dropout worksheet x_corr", new float[] {0, 0, 0, 0, 0, 0, 16, 16},
                    corrected.toFloatArray());
        }
    }

    /**
     * Section 4 (d): in expectation the corrected output equals y_orig = 32,
     * while plain dropout's is (1 - p) * 32 = 8. Averages the library's outputs
     * over 20000 seeds at offset 0 and bounds each mean by 5 of its sample
     * standard errors (about 0.14 and 0.04).
     */
    @Test
    void worksheetSection4Expectation() {
        float[] x = {2, 6, 4, 4, 5, 3, 4, 4};
        int seeds = 20_000;
        double[] corrected = new double[seeds];
        double[] plain = new double[seeds];
        try (Tensor xt = Tensor.of(x, 8); Tensor y = Tensor.zeros(8)) {
            for (int s = 0; s < seeds; s++) {
                DropoutOps.forward(y, xt, 0.75f, true, s, 0);
                corrected[s] = dotWithOnes(y.toFloatArray());
                DropoutOps.forward(y, xt, 0.75f, false, s, 0);
                plain[s] = dotWithOnes(y.toFloatArray());
            }
        }
        assertMeanNear("y_corr", corrected, 32.0);
        assertMeanNear("y_drop", plain, 8.0);
    }

    @Test
    void inPlaceAndHigherRank() {
        float[] x = TestData.normal(29, 3 * 5 * 7, 0, 1);
        float[] expected = DropoutReference.forward(x, 0.4f, true, SEED, 11);
        try (Tensor xt = Tensor.of(x, 3, 5, 7)) {
            try (Tensor y = DropoutOps.forward(xt, 0.4f, true, SEED, 11)) {
                assertEquals(3, y.rank());
                Tolerance.assertBitIdentical("dropout rank-3 y", expected, y.toFloatArray());
            }
            DropoutOps.forward(xt, xt, 0.4f, true, SEED, 11);
            Tolerance.assertBitIdentical("dropout in place y", expected, xt.toFloatArray());
        }
        try (Tensor m = DropoutOps.mask(new long[] {3, 5, 7}, 0.4f, SEED, 11)) {
            assertEquals(3, m.rank());
            Tolerance.assertExact("dropout rank-3 mask", longs(DropoutReference.mask(105, 0.4f, SEED, 11)),
                    longs(m.toFloatArray()));
        }
    }

    /** The last call that fits ends at stream index 2^64 - 1; one element more would wrap. */
    @Test
    void streamEndsAtTwoToThe64() {
        try (Tensor m = DropoutOps.mask(new long[] {12}, 0.5f, SEED, -12L)) {
            Tolerance.assertExact("dropout mask at the end of the stream",
                    longs(DropoutReference.mask(12, 0.5f, SEED, -12L)), longs(m.toFloatArray()));
        }
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> DropoutOps.mask(new long[] {13}, 0.5f, SEED, -12L)),
                "dropoutMask", "offset", "18446744073709551604", "13", "2^64", "float32[13]");
    }

    @Test
    void badProbability() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            for (float p : new float[] {-0.1f, 1.5f, Float.NaN, Float.NEGATIVE_INFINITY}) {
                String pytorch = "dropout probability has to be between 0 and 1, but got " + p;
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.forward(x, p, true, SEED, 0)), "dropout", "p", pytorch);
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.forward(x, x, p, false, SEED, 0)), "dropout", "p", pytorch);
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.mask(x, p, SEED, 0)), "dropoutMask", "p", pytorch);
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.mask(new long[] {3, 4}, p, SEED, 0)), "dropoutMask", "p", pytorch);
            }
        }
    }

    @Test
    void badTensors() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> DropoutOps.forward(Tensor.zeros(arena, 4, 3), x, 0.5f, true, SEED, 0)),
                    "dropout", "y", "[3, 4]", "[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> DropoutOps.forward(null, 0.5f, true, SEED, 0)), "x", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> DropoutOps.forward(null, x, 0.5f, true, SEED, 0)), "y", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> DropoutOps.mask((Tensor) null, 0.5f, SEED, 0)), "mask", "null");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> DropoutOps.forward(labels, 0.5f, true, SEED, 0)), "x", "float32", "int64[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> DropoutOps.forward(labels, x, 0.5f, true, SEED, 0)), "y", "float32", "int64[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> DropoutOps.mask(labels, 0.5f, SEED, 0)), "mask", "float32", "int64[3, 4]");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> DropoutOps.forward(closed, 0.5f, true, SEED, 0)), "x", "closed");
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> DropoutOps.forward(closed, x, 0.5f, true, SEED, 0)), "y", "closed");
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> DropoutOps.mask(closed, 0.5f, SEED, 0)), "mask", "closed");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> DropoutOps.forward(x, 0.5f, true, SEED, -5L)), "dropout", "offset", "2^64", "float32[3, 4]");
        }
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> DropoutOps.mask(new long[] {0, 4}, 0.5f, SEED, 0)), "[0, 4]");
    }

    /** nf_dropout_fwd_f32 or nf_dropout_bwd_f32 and, in their shape, their CUDA twins on device 0. */
    private interface DropoutMap {
        int call(MemorySegment y, MemorySegment x, long n, long seed, long offset, float p, int inverted);
    }

    /** nf_dropout_mask_fwd_f32 and, in its shape, nf_cuda_dropout_mask_fwd_f32 on device 0. */
    private interface DropoutMask {
        int call(MemorySegment mask, long n, long seed, long offset, float p);
    }

    /**
     * The C entry points validate on their own, for callers other than the Java API; the CUDA ones, where the
     * library has them, make the same checks with the same messages before they touch a device.
     */
    @ParameterizedTest(name = "cuda {0}")
    @ValueSource(booleans = {false, true})
    void nativeChecksReturnAStatus(boolean cuda) {
        NativeLibrary.ensureLoaded();
        assumeTrue(!cuda || nnfuse_h.nf_cuda_built() == 1, "the library has no CUDA backend");
        String fwdOp = cuda ? "nf_cuda_dropout_fwd_f32" : "nf_dropout_fwd_f32";
        String maskOp = cuda ? "nf_cuda_dropout_mask_fwd_f32" : "nf_dropout_mask_fwd_f32";
        DropoutMap fwd = cuda
                ? (y, x, n, seed, offset, p, inverted) ->
                        nnfuse_h.nf_cuda_dropout_fwd_f32(y, x, n, seed, offset, p, inverted, 0)
                : nnfuse_h::nf_dropout_fwd_f32;
        DropoutMask maskFwd = cuda
                ? (mask, n, seed, offset, p) -> nnfuse_h.nf_cuda_dropout_mask_fwd_f32(mask, n, seed, offset, p, 0)
                : nnfuse_h::nf_dropout_mask_fwd_f32;
        int invalid = nnfuse_h.NF_ERR_INVALID_ARGUMENT();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_FLOAT, 16);
            assertNative(invalid, fwdOp + ": y is NULL", fwd.call(MemorySegment.NULL, buf, 16, 1, 0, 0.5f, 1));
            assertNative(invalid, fwdOp + ": x is NULL", fwd.call(buf, MemorySegment.NULL, 16, 1, 0, 0.5f, 1));
            assertNative(invalid, fwdOp + ": n must be >= 1, got 0", fwd.call(buf, buf, 0, 1, 0, 0.5f, 1));
            assertNative(invalid, fwdOp + ": dropout probability has to be between 0 and 1, but got 1.5",
                    fwd.call(buf, buf, 16, 1, 0, 1.5f, 1));
            assertNative(invalid, fwdOp + ": dropout probability has to be between 0 and 1, but got nan",
                    fwd.call(buf, buf, 16, 1, 0, Float.NaN, 1));
            assertNative(invalid, fwdOp + ": inverted must be 0 or 1, got 2", fwd.call(buf, buf, 16, 1, 0, 0.5f, 2));
            assertNative(invalid, fwdOp + ": offset + n must not exceed 2^64, got offset "
                    + "18446744073709551615 and n 16", fwd.call(buf, buf, 16, 1, -1L, 0.5f, 1));
            if (cuda) {
                /* The CUDA entry points' one check more: GPU threads run in no set order. */
                assertNative(invalid, fwdOp + ": y overlaps x", fwd.call(buf, buf.asSlice(4), 8, 1, 0, 0.5f, 1));
            }
            assertNative(invalid, maskOp + ": mask is NULL", maskFwd.call(MemorySegment.NULL, 16, 1, 0, 0.5f));
            assertNative(invalid, maskOp + ": dropout probability has to be between 0 and 1, "
                    + "but got -0.25", maskFwd.call(buf, 16, 1, 0, -0.25f));
        }
    }

    /**
     * Backward: the reference against central finite differences of the double
     * reference forward, native against the reference and against the forward
     * applied to dy (the same mask, drawn again), in place, thread counts, and
     * bad input.
     *
     * <p>Tolerances: the native backward and the reference are compared bit for
     * bit, for the reasons the forward is. The forward is linear in x, so
     * central differences have no truncation error, only the rounding of the
     * objective in double (about 1e-16 of |L| / h, under 1e-10 here): atol 1e-9
     * + rtol 1e-7, the latter covering the reference's one float rounding of
     * {@code dy * scale}.
     */
    @Nested
    class Backward {
        private static final Tolerance FD = Tolerance.of(1e-9, 1e-7);

        @Test
        void referenceMatchesFiniteDifferences() {
            int n = 33;
            float[] x = TestData.normal(41, n, 0, 2);
            float[] dy = TestData.normal(42, n, 0, 1);
            double[] xd = TestData.widen(x);
            for (float p : new float[] {0f, 0.3f, 0.75f, 1f}) {
                for (boolean inverted : new boolean[] {true, false}) {
                    double[] fd = FiniteDifferences.gradient(
                            v -> FiniteDifferences.dot(dy, DropoutReference.forward(v, p, inverted, SEED, 3)), xd);
                    FD.assertClose("dropout bwd vs finite differences [p " + p + " inverted " + inverted + "]", fd,
                            DropoutReference.backward(dy, p, inverted, SEED, 3));
                }
            }
        }

        @ParameterizedTest(name = "n {0}, offset {1}")
        @MethodSource("nnfuse.DropoutTest#sizesAndOffsets")
        void matchesReferenceAndForwardOfDy(int n, long offset) {
            float[] dy = TestData.normal(n + offset + 7, n, 0, 1);
            String what = "[n " + n + ", offset " + Long.toUnsignedString(offset) + "]";
            for (float p : PS) {
                for (boolean inverted : new boolean[] {true, false}) {
                    try (Tensor dyT = Tensor.of(dy, n);
                            Tensor dx = DropoutOps.backward(dyT, p, inverted, SEED, offset);
                            Tensor forwardOfDy = DropoutOps.forward(dyT, p, inverted, SEED, offset)) {
                        String name = " " + what + " p " + p + " inverted " + inverted;
                        Tolerance.assertBitIdentical("dropout bwd dx" + name,
                                DropoutReference.backward(dy, p, inverted, SEED, offset), dx.toFloatArray());
                        Tolerance.assertBitIdentical("dropout bwd dx = forward(dy)" + name,
                                forwardOfDy.toFloatArray(), dx.toFloatArray());
                    }
                }
            }
        }

        /**
         * The gradient passes exactly where the forward's mask keeps a unit,
         * scaled by the forward's factor, and is +0.0 elsewhere, even for a NaN
         * or infinite dy (PyTorch's dy * mask would keep a NaN there).
         */
        @Test
        void gradientFollowsTheForwardMask() {
            float[] dy = specialValues();
            int n = dy.length;
            float p = 0.5f;
            try (Tensor dyT = Tensor.of(dy, n);
                    Tensor mask = DropoutOps.mask(new long[] {n}, p, SEED, 9);
                    Tensor dx = DropoutOps.backward(dyT, p, true, SEED, 9)) {
                float[] m = mask.toFloatArray();
                float[] expected = new float[n];
                for (int i = 0; i < n; i++) {
                    expected[i] = m[i] == 1f ? dy[i] * 2f : 0f;
                }
                Tolerance.assertBitIdentical("dropout bwd dx = dy * mask * 2", expected, dx.toFloatArray());
            }
        }

        @Test
        void inPlace() {
            float[] dy = TestData.normal(43, 4097, 0, 1);
            try (Tensor grad = Tensor.of(dy, 17, 241)) {
                DropoutOps.backward(grad, grad, 0.2f, true, SEED, 4);
                Tolerance.assertBitIdentical("dropout bwd in place",
                        DropoutReference.backward(dy, 0.2f, true, SEED, 4), grad.toFloatArray());
            }
        }

        @Test
        void sameResultWhateverTheThreadCount() {
            int n = (1 << 20) + 3;
            float[] dy = TestData.normal(44, n, 0, 1);
            float[] expected = DropoutReference.backward(dy, 0.3f, true, SEED, 5);
            try (Tensor dyT = Tensor.of(dy, n)) {
                List<float[]> runs = Threads.atEachCount(() -> {
                    try (Tensor dx = DropoutOps.backward(dyT, 0.3f, true, SEED, 5)) {
                        return dx.toFloatArray();
                    }
                });
                for (int i = 0; i < runs.size(); i++) {
                    Tolerance.assertBitIdentical("dropout bwd [" + Threads.COUNTS[i] + " threads]", expected,
                            runs.get(i));
                }
            }
        }

        @Test
        void badArguments() {
            try (Arena arena = Arena.ofConfined()) {
                Tensor dy = Tensor.zeros(arena, 3, 4);
                for (float p : new float[] {-0.1f, 1.5f, Float.NaN}) {
                    assertMessage(assertThrows(IllegalArgumentException.class,
                            () -> DropoutOps.backward(dy, p, true, SEED, 0)), "dropoutBackward", "p",
                            "dropout probability has to be between 0 and 1, but got " + p);
                }
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.backward(Tensor.zeros(arena, 4, 3), dy, 0.5f, true, SEED, 0)),
                        "dropoutBackward", "dx", "[3, 4]", "[4, 3]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.backward(null, 0.5f, true, SEED, 0)), "dy", "null");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.backward(null, dy, 0.5f, true, SEED, 0)), "dx", "null");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.backward(Tensor.zeros(arena, DType.INT64, 3, 4), 0.5f, true, SEED, 0)),
                        "dy", "float32", "int64[3, 4]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> DropoutOps.backward(dy, 0.5f, true, SEED, -5L)), "dropoutBackward", "offset", "2^64",
                        "float32[3, 4]");
                Tensor closed = Tensor.zeros(3, 4);
                closed.close();
                assertMessage(assertThrows(IllegalStateException.class,
                        () -> DropoutOps.backward(closed, dy, 0.5f, true, SEED, 0)), "dx", "closed");
            }
        }

        @ParameterizedTest(name = "cuda {0}")
        @ValueSource(booleans = {false, true})
        void nativeChecksReturnAStatus(boolean cuda) {
            NativeLibrary.ensureLoaded();
            assumeTrue(!cuda || nnfuse_h.nf_cuda_built() == 1, "the library has no CUDA backend");
            String op = cuda ? "nf_cuda_dropout_bwd_f32" : "nf_dropout_bwd_f32";
            DropoutMap bwd = cuda
                    ? (dx, dy, n, seed, offset, p, inverted) ->
                            nnfuse_h.nf_cuda_dropout_bwd_f32(dx, dy, n, seed, offset, p, inverted, 0)
                    : nnfuse_h::nf_dropout_bwd_f32;
            int invalid = nnfuse_h.NF_ERR_INVALID_ARGUMENT();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(ValueLayout.JAVA_FLOAT, 16);
                assertNative(invalid, op + ": dx is NULL", bwd.call(MemorySegment.NULL, buf, 16, 1, 0, 0.5f, 1));
                assertNative(invalid, op + ": dy is NULL", bwd.call(buf, MemorySegment.NULL, 16, 1, 0, 0.5f, 1));
                assertNative(invalid, op + ": dropout probability has to be between 0 and 1, but got 2",
                        bwd.call(buf, buf, 16, 1, 0, 2f, 1));
                assertNative(invalid, op + ": inverted must be 0 or 1, got -1", bwd.call(buf, buf, 16, 1, 0, 0.5f, -1));
                assertNative(invalid, op + ": n must be >= 1, got 0", bwd.call(buf, buf, 0, 1, 0, 0.5f, 1));
            }
        }
    }

    /**
     * The CUDA kernels draw the CPU backend's masks bit for bit (issue 6): the same (seed, offset, n, p) on a
     * host tensor, which the CPU backend computes, and on a CUDA tensor, in one JVM. It runs where a CUDA
     * device exists: in the suite on the CUDA harness (whose library carries the CPU backend as well) and on a
     * GPU, there at each CPU level. Offsets that are multiples of 4 take the kernel's float4 path, the others
     * its scalar one; sizes past 2^15 make its threads stride over more than one Philox block each (the
     * harness's grid holds 8192 threads).
     */
    @Nested
    class CudaMatchesCpu {
        /** Both key words nonzero, and both all ones. */
        private static final long[] SEEDS = {SEED, -1L};

        static Stream<Arguments> sizesAndOffsets() {
            Stream.Builder<Arguments> b = Stream.builder();
            for (int n : concat(TestData.AWKWARD_SIZES, new int[] {4, 65_536, 100_003})) {
                for (long offset : OFFSETS) {
                    if (Long.compareUnsigned(offset + (n - 1), offset) >= 0) {
                        b.add(Arguments.of(n, offset));
                    }
                }
            }
            return b.build();
        }

        @BeforeEach
        void onlyWithCuda() {
            assumeTrue(Nnfuse.cudaDeviceCount() > 0, "no CUDA device");
        }

        @ParameterizedTest(name = "n {0}, offset {1}")
        @MethodSource("sizesAndOffsets")
        void masksAndOutputsAreTheCpuBackends(int n, long offset) {
            Device cuda = Device.cuda(0);
            float[] x = Arrays.copyOf(concat(specialValues(), TestData.normal(n + offset, n, 0, 1)), n);
            for (long seed : SEEDS) {
                for (float p : PS) {
                    String what = "[n " + n + ", offset " + Long.toUnsignedString(offset) + ", seed "
                            + Long.toUnsignedString(seed) + ", p " + p + "]";
                    try (Tensor cpuMask = Tensor.zeros(Device.CPU, n); Tensor cudaMask = Tensor.zeros(cuda, n)) {
                        DropoutOps.mask(cpuMask, p, seed, offset);
                        DropoutOps.mask(cudaMask, p, seed, offset);
                        Tolerance.assertExact("dropout mask cuda vs cpu " + what, longs(cpuMask.toFloatArray()),
                                longs(cudaMask.toFloatArray()));
                    }
                    for (boolean inverted : new boolean[] {true, false}) {
                        try (Tensor cpuX = Tensor.of(Device.CPU, x, n); Tensor cudaX = Tensor.of(cuda, x, n);
                                Tensor cpuY = DropoutOps.forward(cpuX, p, inverted, seed, offset);
                                Tensor cudaY = DropoutOps.forward(cudaX, p, inverted, seed, offset);
                                Tensor cpuDx = DropoutOps.backward(cpuX, p, inverted, seed ^ 1, offset);
                                Tensor cudaDx = DropoutOps.backward(cudaX, p, inverted, seed ^ 1, offset)) {
                            Tolerance.assertBitIdentical("dropout y cuda vs cpu " + what + " inverted " + inverted,
                                    cpuY.toFloatArray(), cudaY.toFloatArray());
                            Tolerance.assertBitIdentical("dropout dx cuda vs cpu " + what + " inverted " + inverted,
                                    cpuDx.toFloatArray(), cudaDx.toFloatArray());
                        }
                    }
                }
            }
        }
    }

    private static void assertMask(float expected, float p, long seed, long offset) {
        try (Tensor m = DropoutOps.mask(new long[] {1}, p, seed, offset)) {
            assertEquals(expected, m.get(0), "mask at seed " + seed + " offset " + offset + " p " + p);
        }
    }

    private static void assertNative(int expectedStatus, String expectedMessage, int status) {
        assertEquals(expectedStatus, status);
        assertEquals(expectedMessage, nnfuse_h.nf_last_error().getString(0));
    }

    private static void assertMeanNear(String what, double[] samples, double expected) {
        double mean = Arrays.stream(samples).average().orElseThrow();
        double ss = 0;
        for (double s : samples) {
            ss += (s - mean) * (s - mean);
        }
        double standardError = Math.sqrt(ss / (samples.length - 1) / samples.length);
        assertTrue(Math.abs(mean - expected) <= 5 * standardError,
                what + ": mean " + mean + " over " + samples.length + " seeds, expected " + expected
                        + " +- 5 * " + standardError);
    }

    /** w . y with w = ones (the worksheet's weights); the sums are small integers, exact in double. */
    private static double dotWithOnes(float[] y) {
        double sum = 0;
        for (float v : y) {
            sum += v;
        }
        return sum;
    }

    /** Signed zeros, NaNs with payloads, infinities, a subnormal, the largest float, and ordinary values. */
    private static float[] specialValues() {
        float[] special = {
            -0f, 0f, Float.intBitsToFloat(0x7FC12345), Float.intBitsToFloat(0xFFC00001), Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -Float.MAX_VALUE, -1.5f, 3f,
        };
        return concat(special, TestData.normal(31, 127, 0, 1));
    }

    private static float[] concat(float[] a, float[] b) {
        float[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** A mask as integers for {@link Tolerance#assertExact}; anything but +1.0 and +0.0 fails. */
    private static long[] longs(float[] mask) {
        long[] l = new long[mask.length];
        for (int i = 0; i < mask.length; i++) {
            int bits = Float.floatToRawIntBits(mask[i]);
            if (bits != ONE_BITS && bits != 0) {
                fail("mask index " + i + " is " + mask[i] + String.format(" (0x%08x), not 1 or +0", bits));
            }
            l[i] = bits == ONE_BITS ? 1 : 0;
        }
        return l;
    }
}
