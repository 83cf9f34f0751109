package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.stream.Stream;
import nnfuse.reference.LinearLnReluReference;
import nnfuse.testing.Backends;
import nnfuse.testing.AtEachCpuLevel;
import nnfuse.testing.CpuLevels;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fused Linear + LayerNorm + ReLU forward: native against the double reference and against the unfused chain
 * of native ops, on the worksheet model's blocks and awkward shapes; the optional outputs, the saved bytes,
 * threads, packed weights (bit-identical to the weight's) and bad input, at each CPU level this machine
 * supports ({@link CpuLevels}).
 *
 * <p>Tolerances. {@code h = x W^T + b} is the product of {@link LinearTest}, compared with
 * {@link LinearTest#productTolerance}; let {@code e} be the largest error it allows on any element of
 * {@code h}. The row statistics inherit it: the mean of {@code h} moves by at most {@code e}, and since
 * {@code |d var| <= 2 sigma e} (Cauchy-Schwarz), {@code |d rstd| / rstd <= sigma e / (sigma^2 + eps) <= e *
 * rstd}; each is also rounded to float once (rtol 1e-6, as in {@link LayerNormTest}). The output
 * {@code y = (h - mean) * rstd * gamma + beta} then moves by at most {@code |gamma| * rstd * e * (2 + |xhat|)}:
 * the error of {@code h} divided by the row's standard deviation, which is why the bound scales with the
 * largest {@code rstd} and {@code |gamma|} and the largest {@code |xhat|} of the data; LayerNorm's own float
 * rounding adds {@link LayerNormTest}'s atol 1e-5 + rtol 1e-5, and the ReLU, being 1-Lipschitz, adds
 * nothing. Against the unfused chain the comparison is bit-for-bit: the fused op runs the same product
 * routine and the same LayerNorm row routine in the same order, so any difference is a bug.
 */
class LinearLnReluTest extends AtEachCpuLevel {
    private static final float EPS = LayerNormOps.DEFAULT_EPS;
    /** The outputs in the order {@link Case#fused} and {@link Case#unfused} return them. */
    private static final String[] OUTPUTS = {"y", "h", "mean", "rstd"};

    /** Discussion 04, section 1: the model's four blocks at batch 4; the last feeds the logits, without ReLU. */
    static Stream<Arguments> worksheetBlocks() {
        return Stream.of(Arguments.of(4, 52, 128, true), Arguments.of(4, 128, 256, true),
                Arguments.of(4, 256, 20, true), Arguments.of(4, 20, 1000, false));
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int n : TestData.AWKWARD_SIZES) {
            b.add(Arguments.of(1, n, 7, true));
            b.add(Arguments.of(4, 33, n, true));
            b.add(Arguments.of(n, 31, 9, n % 2 == 0));
        }
        b.add(Arguments.of(257, 300, 129, true));
        b.add(Arguments.of(300, 64, 1031, false));
        return b.build();
    }

    @ParameterizedTest(name = "[{0}, {1}] -> {2}, relu {3}")
    @MethodSource("worksheetBlocks")
    void worksheetBlocksMatchReferenceAndUnfusedChain(int rows, int in, int out, boolean relu) {
        compare(new Case(rows, in, out, true, true, relu));
    }

    @ParameterizedTest(name = "[{0}, {1}] -> {2}, relu {3}")
    @MethodSource("shapes")
    void matchesReferenceAndUnfusedChain(int rows, int in, int out, boolean relu) {
        compare(new Case(rows, in, out, true, true, relu));
    }

    @Test
    void withoutBiasGammaOrBeta() {
        compare(new Case(7, 33, 129, false, false, true));
        compare(new Case(7, 33, 129, false, true, false));
    }

    /** relu = false keeps the negative half of the normalized rows, relu = true zeroes it. */
    @Test
    void reluFlag() {
        Case c = new Case(4, 20, 1000, true, true, false);
        float[] plain = c.fused(true)[0];
        float[] rectified = new Case(4, 20, 1000, true, true, true).fused(true)[0];
        assertTrue(Arrays.stream(c.reference().y()).anyMatch(v -> v < 0), "LayerNorm output has negatives");
        for (int i = 0; i < plain.length; i++) {
            assertEquals(Math.max(plain[i], 0f), rectified[i], 0f, "element " + i);
        }
    }

    /** Without h the product is normalized in place in y; the bits must not change. */
    @Test
    void optionalOutputsDoNotChangeTheResult() {
        Case c = new Case(33, 129, 31, true, true, true);
        float[] withAll = c.fused(true)[0];
        Tolerance.assertBitIdentical("linearLnRelu y without h, mean, rstd", withAll, c.fused(false)[0]);
        try (Tensor x = c.x(); Tensor w = c.w(); Tensor b = c.b(); Tensor g = c.gamma(); Tensor be = c.beta();
                Tensor y = LinearLnReluOps.forward(x, w, b, g, be, EPS, true)) {
            Tolerance.assertBitIdentical("linearLnRelu allocating y", withAll, y.toFloatArray());
        }
    }

    @Test
    void higherRankFlattensTheLeadingDimensions() {
        Case c = new Case(6, 5, 4, true, true, true);
        try (Tensor x = Tensor.of(c.xData, 2, 3, 5); Tensor w = c.w(); Tensor b = c.b(); Tensor g = c.gamma();
                Tensor be = c.beta();
                Tensor y = LinearLnReluOps.forward(x, w, b, g, be, EPS, true)) {
            assertArrayEquals(new long[] {2, 3, 4}, y.shape());
            Tolerance.assertBitIdentical("linearLnRelu rank-3 y", c.fused(false)[0], y.toFloatArray());
        }
    }

    @Test
    void sameResultWithOneTwoAndFourThreads() {
        Case c = new Case(257, 300, 129, true, true, true);
        Threads.assertSameAtEachCount("linearLnRelu", OUTPUTS, () -> c.fused(true));
    }

    /**
     * h, mean and rstd are what the op keeps: savedBytes is their size. For the worksheet's hidden blocks at
     * batch 4 that is 4 * (128 + 256 + 20) + 3 * 2 * 4 = 1640 floats, where the unfused Linear, LayerNorm and
     * ReLU keep 3 * 4 * (128 + 256 + 20) = 4848 (Discussion 04, 1(c): 8848 less the 4 * 1000 logits).
     */
    @Test
    void savedBytesIsTheSizeOfHMeanAndRstd() {
        assertEquals(4 * 1640, LinearLnReluOps.savedBytes(4, 128) + LinearLnReluOps.savedBytes(4, 256)
                + LinearLnReluOps.savedBytes(4, 20));
        try (Arena arena = Arena.ofConfined()) {
            Tensor h = Tensor.zeros(arena, 7, 33);
            Tensor mean = Tensor.zeros(arena, 7);
            Tensor rstd = Tensor.zeros(arena, 7);
            long bytes = h.segment().byteSize() + mean.segment().byteSize() + rstd.segment().byteSize();
            assertEquals(bytes, LinearLnReluOps.savedBytes(7, 33));
        }
        assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearLnReluOps.savedBytes(0, 128)),
                "rows", "0");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearLnReluOps.savedBytes(4, -1)),
                "outFeatures", "-1");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> LinearLnReluOps.savedBytes(Long.MAX_VALUE / 2, 4)), "long");
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 4, 52);
            Tensor w = Tensor.zeros(arena, 128, 52);
            Tensor y = Tensor.zeros(arena, 4, 128);
            Tensor v128 = Tensor.zeros(arena, 128);
            Tensor v52 = Tensor.zeros(arena, 52);
            Tensor v4 = Tensor.zeros(arena, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> fused(x, Tensor.zeros(arena, 128, 256), null, null, null, EPS)),
                    "linearLnRelu", "weight", "[out_features, 52]", "[128, 256]", "float32[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> fused(x, w, v52, null, null, EPS)),
                    "bias", "[128]", "[52]", "[128, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> fused(x, w, v128, v52, null, EPS)),
                    "gamma", "[128]", "[52]", "[128, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> fused(x, w, v128, v128, v52, EPS)),
                    "beta", "[128]", "[52]", "[128, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> fused(x, w, null, null, null, -1f)),
                    "eps", "-1");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> fused(x, w, null, null, null, Float.NaN)), "eps", "NaN");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> fused(x, w, null, null, null, Float.POSITIVE_INFINITY)), "eps", "Infinity");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> fused(null, w, null, null, null, EPS)),
                    "x", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> write(Tensor.zeros(arena, 4, 52), null, null, null, x, w)), "y", "[4, 128]", "[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> write(y, Tensor.zeros(arena, 128, 4), null, null, x, w)), "h", "[4, 128]", "[128, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> write(y, null, v128, null, x, w)), "mean", "[4]", "[128]", "[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> write(y, null, v4, v52, x, w)), "rstd", "[4]", "[52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> write(y, y, null, null, x, w)),
                    "y", "h", "same tensor", "[4, 128]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> write(y, null, v4, v4, x, w)),
                    "mean", "rstd", "same tensor", "[4]");
            Tensor square = Tensor.zeros(arena, 4, 4);
            Tensor w4 = Tensor.zeros(arena, 4, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> write(Tensor.zeros(arena, 4, 4), square, null, null, square, w4)),
                    "h", "x", "same tensor");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 4, 52);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> fused(labels, w, null, null, null, EPS)),
                    "x", "float32", "int64[4, 52]");
            Tensor intGamma = Tensor.zeros(arena, DType.INT64, 128);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> fused(x, w, null, intGamma, null, EPS)), "gamma", "float32", "int64[128]");
            Tensor closed = Tensor.zeros(4, 52);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> fused(closed, w, null, null, null, EPS)),
                    "x", "closed", "[4, 52]");
            Tensor closedBeta = Tensor.zeros(128);
            closedBeta.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> fused(x, w, null, null, closedBeta, EPS)), "beta", "closed", "[128]");
            Tensor closedMean = Tensor.zeros(4);
            closedMean.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> write(y, null, closedMean, null, x, w)),
                    "mean", "closed");
        }
    }

    /** The allocating form with a packed weight gives the writing form's y; bad input names the packed weight. */
    @Test
    void packedWeight() {
        Backends.assumeCpu(LinearTest.PACKED);
        Case c = new Case(9, 40, 33, true, true, true);
        try (Arena arena = Arena.ofConfined(); Tensor x = c.x(); Tensor w = c.w();
                PackedWeight packed = PackedWeight.of(w); Tensor b = c.b(); Tensor g = c.gamma(); Tensor be = c.beta();
                Tensor y = LinearLnReluOps.forward(x, packed, b, g, be, EPS, true)) {
            Tolerance.assertBitIdentical("linearLnRelu packed allocating y", c.fused(false)[0], y.toFloatArray());
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearLnReluOps.forward(Tensor.zeros(arena, 9, 41), packed, null, null, null, EPS, true)),
                    "linearLnRelu", "weight", "[out_features, 41]", "packed float32[33, 40]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearLnReluOps.forward(x, packed, null, Tensor.zeros(arena, 40), null, EPS, true)),
                    "gamma", "[33]", "[40]", "packed float32[33, 40]");
            PackedWeight closed = PackedWeight.of(w);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> LinearLnReluOps.forward(x, closed, null, null, null, EPS, true)), "weight", "closed");
        }
    }

    private static Tensor fused(Tensor x, Tensor w, Tensor b, Tensor gamma, Tensor beta, float eps) {
        return LinearLnReluOps.forward(x, w, b, gamma, beta, eps, true);
    }

    private static void write(Tensor y, Tensor h, Tensor mean, Tensor rstd, Tensor x, Tensor w) {
        LinearLnReluOps.forward(y, h, mean, rstd, x, w, null, null, null, EPS, true);
    }

    private static void compare(Case c) {
        LinearLnReluReference.Forward ref = c.reference();
        float[][] fused = c.fused(true);
        String shape = " [" + c.rows + "x" + c.in + "->" + c.out + "]";
        Tolerance hTol = LinearTest.productTolerance(c.xData, c.wData, c.bData, c.rows, c.in, c.out);
        double e = hTol.atol() + hTol.rtol() * maxAbs(ref.h());
        double maxRstd = maxAbs(ref.rstd());
        double maxGamma = c.gammaData == null ? 1 : maxAbs(c.gammaData);
        double maxXhat = 0;
        for (int r = 0; r < c.rows; r++) {
            for (int j = 0; j < c.out; j++) {
                maxXhat = Math.max(maxXhat, Math.abs((ref.h()[r * c.out + j] - ref.mean()[r]) * ref.rstd()[r]));
            }
        }
        Tolerance.of(1e-5 + maxGamma * maxRstd * e * (2 + maxXhat), 1e-5)
                .assertClose("linearLnRelu y" + shape, ref.y(), fused[0]);
        hTol.assertClose("linearLnRelu h" + shape, ref.h(), fused[1]);
        Tolerance.of(e + 1e-6, 1e-6).assertClose("linearLnRelu mean" + shape, ref.mean(), fused[2]);
        Tolerance.of(0, e * maxRstd + 1e-6).assertClose("linearLnRelu rstd" + shape, ref.rstd(), fused[3]);

        float[][] unfused = c.unfused();
        float[][] packed = Backends.onCuda() ? null : c.fusedPacked();
        for (int i = 0; i < OUTPUTS.length; i++) {
            Tolerance.assertBitIdentical("linearLnRelu " + OUTPUTS[i] + " vs unfused" + shape, unfused[i], fused[i]);
            if (packed != null) {
                Tolerance.assertBitIdentical("linearLnRelu " + OUTPUTS[i] + " packed" + shape, fused[i], packed[i]);
            }
        }
    }

    private static double maxAbs(double[] a) {
        return Arrays.stream(a).map(Math::abs).max().orElseThrow();
    }

    private static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /**
     * One block's seeded data: x ~ N(0, 1), W and b as PyTorch initializes them, gamma ~ N(1, 1/4) and
     * beta ~ N(0, 1/4).
     */
    private static final class Case {
        final int rows;
        final int in;
        final int out;
        final boolean relu;
        final float[] xData;
        final float[] wData;
        final float[] bData;
        final float[] gammaData;
        final float[] betaData;

        Case(int rows, int in, int out, boolean bias, boolean affine, boolean relu) {
            this.rows = rows;
            this.in = in;
            this.out = out;
            this.relu = relu;
            long seed = 1_000_003L * rows + 1009L * in + out;
            xData = TestData.normal(seed, rows * in, 0, 1);
            wData = LinearTest.init(seed + 1, out * in, in);
            bData = bias ? LinearTest.init(seed + 2, out, in) : null;
            gammaData = affine ? TestData.normal(seed + 3, out, 1, 0.5) : null;
            betaData = affine ? TestData.normal(seed + 4, out, 0, 0.5) : null;
        }

        LinearLnReluReference.Forward reference() {
            return LinearLnReluReference.forward(xData, wData, bData, gammaData, betaData, rows, in, out, EPS, relu);
        }

        /** y, h, mean and rstd of the fused op; without the optional outputs, h, mean and rstd are empty. */
        float[][] fused(boolean keepForBackward) {
            try (Tensor x = x(); Tensor w = w(); Tensor b = b(); Tensor g = gamma(); Tensor be = beta();
                    Tensor y = Tensor.zeros(rows, out);
                    Tensor h = keepForBackward ? Tensor.zeros(rows, out) : null;
                    Tensor mean = keepForBackward ? Tensor.zeros(rows) : null;
                    Tensor rstd = keepForBackward ? Tensor.zeros(rows) : null) {
                LinearLnReluOps.forward(y, h, mean, rstd, x, w, b, g, be, EPS, relu);
                return new float[][] {y.toFloatArray(), floats(h), floats(mean), floats(rstd)};
            }
        }

        /** y, h, mean and rstd of the fused op with the weight packed by {@link PackedWeight}. */
        float[][] fusedPacked() {
            try (Tensor x = x(); Tensor w = w(); PackedWeight packed = PackedWeight.of(w); Tensor b = b();
                    Tensor g = gamma(); Tensor be = beta(); Tensor y = Tensor.zeros(rows, out);
                    Tensor h = Tensor.zeros(rows, out); Tensor mean = Tensor.zeros(rows);
                    Tensor rstd = Tensor.zeros(rows)) {
                LinearLnReluOps.forward(y, h, mean, rstd, x, packed, b, g, be, EPS, relu);
                return new float[][] {y.toFloatArray(), h.toFloatArray(), mean.toFloatArray(), rstd.toFloatArray()};
            }
        }

        /** y, h, mean and rstd of LinearOps, then LayerNormOps, then ReluOps in place. */
        float[][] unfused() {
            try (Tensor x = x(); Tensor w = w(); Tensor b = b(); Tensor g = gamma(); Tensor be = beta();
                    Tensor h = LinearOps.forward(x, w, b);
                    Tensor y = Tensor.zeros(rows, out);
                    Tensor mean = Tensor.zeros(rows);
                    Tensor rstd = Tensor.zeros(rows)) {
                LayerNormOps.forward(y, mean, rstd, h, g, be, EPS);
                if (relu) {
                    ReluOps.forward(y, y);
                }
                return new float[][] {y.toFloatArray(), h.toFloatArray(), mean.toFloatArray(), rstd.toFloatArray()};
            }
        }

        Tensor x() {
            return Tensor.of(xData, rows, in);
        }

        Tensor w() {
            return Tensor.of(wData, out, in);
        }

        Tensor b() {
            return bData == null ? null : Tensor.of(bData, out);
        }

        Tensor gamma() {
            return gammaData == null ? null : Tensor.of(gammaData, out);
        }

        Tensor beta() {
            return betaData == null ? null : Tensor.of(betaData, out);
        }

        private static float[] floats(Tensor t) {
            return t == null ? new float[0] : t.toFloatArray();
        }
    }
}
