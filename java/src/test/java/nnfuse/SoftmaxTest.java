package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.reference.SoftmaxReference;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Softmax and log-softmax: closed forms, native against the double reference
 * on awkward shapes, extreme and infinite logits, determinism, and bad input.
 *
 * <p>Tolerances: softmax is {@code exp(x - max)} (glibc's expf, under 1 ulp,
 * with the rounding error of the float subtraction put back) rounded to float,
 * then scaled by a double {@code 1 / sum} and rounded again: about 1.5 ulp, a
 * relative 2e-7, for every probability however small, so rtol 1e-6. Outputs
 * below float's smallest normal (1.2e-38) keep only an absolute accuracy of a
 * few subnormal steps (1.4e-45 each): atol 1e-44.
 * Log-softmax is {@code (x - max) - log(sum)} in double, rounded once: half an
 * ulp of {@code |y|} (rtol 6e-8) plus the error of {@code log(sum)}, which the
 * terms' relative error (~1e-7) bounds in absolute terms; atol 1e-6 +
 * rtol 2e-7 leaves a margin of several times both.
 */
class SoftmaxTest {
    private static final Tolerance SOFTMAX = Tolerance.of(1e-44, 1e-6);
    private static final Tolerance LOG_SOFTMAX = Tolerance.of(1e-6, 2e-7);
    private static final float INF = Float.POSITIVE_INFINITY;

    /**
     * Closed forms: equal logits share evenly; two logits a, b give 1 / (1 + e^(b - a)); exp(-1e4) is 0; the
     * last row's probabilities fall below float's normal range (e^-90 ~ 8e-40) while its log-softmax stays exact.
     */
    @Test
    void closedForms() {
        double e = Math.E;
        double l3 = Math.log(3);
        double l4 = Math.log(4);
        double ninf = Double.NEGATIVE_INFINITY;
        double s = 1 + Math.exp(-90) + Math.exp(-100) + Math.exp(-104);
        float[] x = {0, 0, 0, 0, 0, 1, -INF, -INF, 1e4f, 1e4f, 1e4f, 0, -1e4f, 1e4f, 0, 0, 0, -90, -100, -104};
        double[] softmax = {0.25, 0.25, 0.25, 0.25, 1 / (1 + e), e / (1 + e), 0, 0,
            1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 0, 1, 0, 0, 1 / s, Math.exp(-90) / s, Math.exp(-100) / s, Math.exp(-104) / s};
        double[] logSoftmax = {-l4, -l4, -l4, -l4, -Math.log1p(e), 1 - Math.log1p(e), ninf, ninf,
            -l3, -l3, -l3, -1e4 - l3, -2e4, 0, -1e4, -1e4, -Math.log(s), -90 - Math.log(s), -100 - Math.log(s),
            -104 - Math.log(s)};
        try (Tensor xt = Tensor.of(x, 5, 4); Tensor y = SoftmaxOps.softmax(xt); Tensor ly = SoftmaxOps.logSoftmax(xt)) {
            SOFTMAX.assertClose("softmax closed form", softmax, y.toFloatArray());
            LOG_SOFTMAX.assertClose("logSoftmax closed form", logSoftmax, ly.toFloatArray());
        }
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int n : TestData.AWKWARD_SIZES) {
            b.add(Arguments.of(1, n));
            b.add(Arguments.of(7, n));
            b.add(Arguments.of(n, 3));
            b.add(Arguments.of(n, 33));
        }
        b.add(Arguments.of(129, 4097));
        b.add(Arguments.of(1031, 257));
        return b.build();
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void matchesReference(int rows, int cols) {
        compare(rows, cols, TestData.normal(41L * rows + cols, rows * cols, 0.5, 3.0), "");
    }

    /** Logits of +-1e4 overflow exp without the max shift; here the mix of both signs, and near-ties at 1e4. */
    @Test
    void extremeLogits() {
        int rows = 31;
        int cols = 129;
        compare(rows, cols, TestData.normal(3, rows * cols, 0, 1e4), "normal(0, 1e4)");
        compare(rows, cols, TestData.normal(4, rows * cols, 1e4, 3), "normal(1e4, 3)");
        float[] signs = TestData.uniform(5, rows * cols, -1, 1);
        float[] mixed = new float[rows * cols];
        for (int i = 0; i < mixed.length; i++) {
            mixed[i] = signs[i] < -0.3f ? -1e4f : signs[i] > 0.3f ? 1e4f - 8 * (signs[i] - 0.3f) : 100 * signs[i];
        }
        compare(rows, cols, mixed, "mixed +-1e4");
    }

    /**
     * -inf entries give probability 0 (log -inf); a row of only -inf, or with
     * NaN or +inf, is NaN throughout, as torch.softmax.
     */
    @Test
    void infiniteAndNaNLogits() {
        float nan = Float.NaN;
        float[] x = {-INF, 0, 1, -INF, -INF, -INF, 2, nan, 0, INF, 0, 1};
        double e = Math.E;
        double n = Double.NaN;
        double[] softmax = {0, 1 / (1 + e), e / (1 + e), n, n, n, n, n, n, n, n, n};
        double[] logSoftmax = {Double.NEGATIVE_INFINITY, -Math.log1p(e), 1 - Math.log1p(e), n, n, n, n, n, n, n, n, n};
        try (Tensor xt = Tensor.of(x, 4, 3); Tensor y = SoftmaxOps.softmax(xt); Tensor ly = SoftmaxOps.logSoftmax(xt)) {
            SOFTMAX.assertClose("softmax infinite logits", softmax, y.toFloatArray());
            LOG_SOFTMAX.assertClose("logSoftmax infinite logits", logSoftmax, ly.toFloatArray());
        }
    }

    @Test
    void inPlace() {
        float[] data = TestData.normal(9, 7 * 31, 0, 2);
        try (Tensor x = Tensor.of(data, 7, 31)) {
            SoftmaxOps.softmax(x, x);
            SOFTMAX.assertClose("softmax in place", SoftmaxReference.softmax(data, 7, 31), x.toFloatArray());
            x.copyFrom(data);
            SoftmaxOps.logSoftmax(x, x);
            LOG_SOFTMAX.assertClose("logSoftmax in place", SoftmaxReference.logSoftmax(data, 7, 31), x.toFloatArray());
        }
    }

    @Test
    void higherRankUsesTheLastDimension() {
        float[] data = TestData.normal(11, 2 * 3 * 5, 0, 1);
        try (Tensor x = Tensor.of(data, 2, 3, 5); Tensor y = SoftmaxOps.softmax(x);
                Tensor ly = SoftmaxOps.logSoftmax(x)) {
            assertEquals(3, y.rank());
            SOFTMAX.assertClose("softmax rank-3", SoftmaxReference.softmax(data, 6, 5), y.toFloatArray());
            LOG_SOFTMAX.assertClose("logSoftmax rank-3", SoftmaxReference.logSoftmax(data, 6, 5), ly.toFloatArray());
        }
        try (Tensor x = Tensor.of(new float[] {1, 2, 3}, 3); Tensor y = SoftmaxOps.softmax(x)) {
            SOFTMAX.assertClose("softmax rank-1", SoftmaxReference.softmax(new float[] {1, 2, 3}, 1, 3),
                    y.toFloatArray());
        }
    }

    /** 129 x 4097 is far above the parallel threshold: rows split across threads must not change a bit. */
    @Test
    void deterministicAcrossThreadCounts() {
        float[] data = TestData.normal(13, 129 * 4097, 0, 4);
        try (Tensor x = Tensor.of(data, 129, 4097)) {
            List<float[]> soft = Threads.atEachCount(() -> {
                try (Tensor y = SoftmaxOps.softmax(x)) {
                    return y.toFloatArray();
                }
            });
            List<float[]> log = Threads.atEachCount(() -> {
                try (Tensor y = SoftmaxOps.logSoftmax(x)) {
                    return y.toFloatArray();
                }
            });
            for (int i = 1; i < soft.size(); i++) {
                Tolerance.assertBitIdentical("softmax threads " + Threads.COUNTS[i], soft.get(0), soft.get(i));
                Tolerance.assertBitIdentical("logSoftmax threads " + Threads.COUNTS[i], log.get(0), log.get(i));
            }
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> SoftmaxOps.softmax(null)),
                    "softmax", "x", "null");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> SoftmaxOps.logSoftmax(null)),
                    "logSoftmax", "x", "null");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> SoftmaxOps.softmax(null, x)),
                    "softmax", "y", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SoftmaxOps.softmax(Tensor.zeros(arena, 4, 3), x)), "y", "[3, 4]", "[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SoftmaxOps.logSoftmax(Tensor.zeros(arena, 12), x)), "logSoftmax", "y", "[3, 4]", "[12]");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> SoftmaxOps.softmax(labels)),
                    "x", "float32", "int64[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> SoftmaxOps.logSoftmax(labels, x)),
                    "y", "float32", "int64[3, 4]");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> SoftmaxOps.softmax(closed)), "x", "closed");
            assertMessage(assertThrows(IllegalStateException.class, () -> SoftmaxOps.logSoftmax(closed, x)),
                    "y", "closed");
        }
    }

    private static void compare(int rows, int cols, float[] x, String what) {
        String shape = "[" + rows + "x" + cols + "]" + (what.isEmpty() ? "" : " " + what);
        try (Tensor xt = Tensor.of(x, rows, cols); Tensor y = SoftmaxOps.softmax(xt);
                Tensor ly = SoftmaxOps.logSoftmax(xt)) {
            SOFTMAX.assertClose("softmax " + shape, SoftmaxReference.softmax(x, rows, cols), y.toFloatArray());
            LOG_SOFTMAX.assertClose("logSoftmax " + shape, SoftmaxReference.logSoftmax(x, rows, cols),
                    ly.toFloatArray());
        }
    }
}
