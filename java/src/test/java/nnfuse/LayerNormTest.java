package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.reference.LayerNormReference;
import nnfuse.testing.AtEachCpuLevel;
import nnfuse.testing.CpuLevels;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LayerNorm forward: the worksheet's example, native against the double
 * reference on awkward shapes, accuracy under a large mean, and bad input, at
 * each CPU level this machine supports ({@link CpuLevels}; the levels agree
 * bit for bit, which {@code CpuLevelTest} checks).
 *
 * <p>Tolerances: y is a float32 rounding of (x - mean) * rstd * gamma + beta,
 * where the kernel's mean and rstd carry one float rounding each (the moments
 * are summed in double); a few ulps of |y| plus a few ulps of the largest term
 * bound the error, so atol 1e-5 + rtol 1e-5 leaves a wide margin on N(0, 1) data.
 * The saved statistics are single roundings of double values: rtol 1e-6.
 *
 * <p>Backward ({@link #backwardTolerances}): native and reference get the same float dy, x, gamma, mean and
 * rstd. The kernel forms {@code g = dy * gamma} exactly and both row means in double, so its error comes from
 * xhat, the forward's float value, which differs from the reference's {@code (x - mean) * rstd} by at most
 * {@code E = 3 u X + R m} (three roundings, with {@code X} the largest |xhat|, {@code R} the largest rstd, and
 * {@code m} how far the row mean the kernel subtracts, the double one, lies from the mean the reference is
 * given: {@code u |mean|} for the saved float mean, 0 for the exact one). In
 * {@code dx = rstd (g - mean(g) - xhat mean(g xhat))} that error enters the last term directly, times
 * {@code |mean(g xhat)| <= G X}, and through {@code mean(g xhat)}, by {@code G E}, times {@code |xhat|}: at most
 * {@code 2 R G X E} with {@code G} the largest |g|, plus the final rounding {@code u |dx|}; the tolerance
 * doubles both. {@code dgamma = sum_r dy xhat} errs by {@code D E} per term ({@code D} the largest |dy|) and
 * {@code dbeta = sum_r dy} only by its final rounding (it is summed in double); both are sums over the rows,
 * widened by {@link Tolerance#forReduction}. The reference backward itself is checked against central finite
 * differences of the double reference forward with {@link FiniteDifferences#SCALED_TOLERANCE}.
 */
class LayerNormTest extends AtEachCpuLevel {
    private static final Tolerance Y = Tolerance.of(1e-5, 1e-5);
    private static final Tolerance STATS = Tolerance.of(1e-6, 1e-6);
    /** Unit roundoff of float32. */
    private static final double U = 0x1p-24;
    /** The gradients in the order {@link BackwardCase#run} returns them. */
    private static final String[] GRADIENTS = {"dx", "dgamma", "dbeta"};

    /** Discussion 04, section 2(a), eps = 0; expected values are the exact closed forms. */
    @Test
    void worksheetSection2Example() {
        double s3 = Math.sqrt(3);
        double[] expected = {
            -1, -3, 4, 4,
            -1, -2.0 / 3 - 1, -1 + 1, 4 * 5.0 / 3,
            -1 / s3, -2 / s3 - 1, -3 / s3 + 1, 4 * 3 / s3,
        };
        try (Tensor x = Tensor.of(new float[] {4, 4, 8, 8, 0, 2, 2, 8, 1, 1, 1, 5}, 3, 4);
                Tensor gamma = Tensor.of(new float[] {1, 2, 3, 4}, 4);
                Tensor beta = Tensor.of(new float[] {0, -1, 1, 0}, 4);
                Tensor mean = Tensor.zeros(3);
                Tensor rstd = Tensor.zeros(3);
                Tensor y = Tensor.zeros(3, 4)) {
            LayerNormOps.forward(y, mean, rstd, x, gamma, beta, 0f);
            Tolerance.of(1e-6, 2e-7).assertClose("layerNorm worksheet y", expected, y.toFloatArray());
            Tolerance.of(0, 0).assertClose("layerNorm worksheet mean", new double[] {6, 3, 2}, mean.toFloatArray());
            Tolerance.of(0, 1e-7).assertClose("layerNorm worksheet rstd",
                    new double[] {0.5, 1.0 / 3, 1 / s3}, rstd.toFloatArray());
        }
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int cols : TestData.AWKWARD_SIZES) {
            b.add(Arguments.of(1, cols));
            b.add(Arguments.of(7, cols));
        }
        b.add(Arguments.of(129, 33));
        b.add(Arguments.of(1031, 257));
        b.add(Arguments.of(64, 1024));
        return b.build();
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void matchesReference(int rows, int cols) {
        long seed = 31L * rows + cols;
        float[] x = TestData.normal(seed, rows * cols, 0.5, 2.0);
        float[] gamma = TestData.normal(seed + 1, cols, 1.0, 0.5);
        float[] beta = TestData.normal(seed + 2, cols, 0.0, 0.5);
        compare(rows, cols, x, gamma, beta, 1e-5f, Y);
    }

    @Test
    void withoutAffineParameters() {
        float[] x = TestData.normal(5, 33 * 129, 0, 1);
        compare(33, 129, x, null, null, 1e-5f, Y);
        compare(33, 129, x, TestData.normal(6, 129, 1, 1), null, 1e-5f, Y);
    }

    /** Mean 1e4, spread 1: E[x^2] - E[x]^2 in float would lose every digit of the variance here. */
    @Test
    void largeMeanSmallSpread() {
        int rows = 16;
        int cols = 1000;
        float[] x = TestData.normal(7, rows * cols, 1e4, 1.0);
        compare(rows, cols, x, null, null, 0f, Tolerance.of(2e-5, 2e-5));
    }

    @Test
    void constantRowGivesBetaWithPositiveEps() {
        try (Tensor x = Tensor.of(new float[] {3, 3, 3, 3, 3}, 1, 5);
                Tensor beta = Tensor.of(new float[] {1, 2, 3, 4, 5}, 5)) {
            try (Tensor y = LayerNormOps.forward(x, null, beta, 1e-5f)) {
                Tolerance.of(0, 0).assertClose("layerNorm constant row", new double[] {1, 2, 3, 4, 5},
                        y.toFloatArray());
            }
            try (Tensor y = LayerNormOps.forward(x, null, null, 0f)) {
                assertTrue(Float.isNaN(y.get(0, 0)), "0/0 with eps = 0 is NaN, as in PyTorch");
            }
        }
    }

    @Test
    void inPlace() {
        float[] data = TestData.normal(9, 7 * 31, 0, 1);
        LayerNormReference.Forward ref = LayerNormReference.forward(data, null, null, 7, 31, 1e-5);
        try (Tensor x = Tensor.of(data, 7, 31)) {
            LayerNormOps.forward(x, null, null, x, null, null, 1e-5f);
            Y.assertClose("layerNorm in place y", ref.y(), x.toFloatArray());
        }
    }

    @Test
    void higherRankNormalizesTheLastDimension() {
        float[] data = TestData.normal(11, 2 * 3 * 5, 0, 1);
        LayerNormReference.Forward ref = LayerNormReference.forward(data, null, null, 6, 5, 1e-5);
        try (Tensor x = Tensor.of(data, 2, 3, 5); Tensor y = LayerNormOps.forward(x, null, null, 1e-5f)) {
            assertEquals(3, y.rank());
            Y.assertClose("layerNorm rank-3 y", ref.y(), y.toFloatArray());
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            Tensor y = Tensor.zeros(arena, 3, 4);
            Tensor gamma5 = Tensor.zeros(arena, 5);
            Tensor rows2 = Tensor.zeros(arena, 2);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(x, gamma5, null, 1e-5f)), "gamma", "[4]", "[5]", "[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(x, null, gamma5, 1e-5f)), "beta", "[5]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(y, rows2, null, x, null, null, 1e-5f)), "mean", "[3]", "[2]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(x, null, null, -1f)), "eps", "-1");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(x, null, null, Float.NaN)), "eps", "NaN");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(Tensor.zeros(arena, 4, 3), null, null, x, null, null, 1e-5f)),
                    "y", "[3, 4]", "[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(null, null, null, 1e-5f)), "x", "null");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(labels, null, null, 1e-5f)), "x", "float32", "int64[3, 4]");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> LayerNormOps.forward(closed, null, null, 1e-5f)), "x", "closed");
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> LayerNormOps.forward(closed, null, null, x, null, null, 1e-5f)), "y", "closed");
        }
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(0, 4)), "[0, 4]");
    }

    @Test
    void closedArenaIsDetected() {
        Tensor x;
        try (Arena arena = Arena.ofConfined()) {
            x = Tensor.zeros(arena, 2, 2);
        }
        assertMessage(assertThrows(IllegalStateException.class, () -> LayerNormOps.forward(x, null, null, 0f)),
                "arena", "closed");
    }

    /**
     * The reference backward against central differences of {@code sum(dy * layerNorm(x))} in x, gamma and
     * beta, and without gamma in x alone.
     */
    @Test
    void referenceBackwardMatchesFiniteDifferences() {
        for (int[] shape : TestData.smallShapes(29, 8)) {
            int rows = shape[0];
            int cols = shape[1];
            long seed = 100L * rows + cols;
            double[] x = TestData.widen(TestData.normal(seed, rows * cols, 0.5, 2));
            double[] gamma = TestData.widen(TestData.normal(seed + 1, cols, 1, 0.5));
            double[] beta = TestData.widen(TestData.normal(seed + 2, cols, 0, 0.5));
            float[] dy = TestData.normal(seed + 3, rows * cols, 0, 1);
            double[] dyd = TestData.widen(dy);
            double eps = 1e-5;
            LayerNormReference.Forward fwd = LayerNormReference.forward(x, gamma, beta, rows, cols, eps);
            LayerNormReference.Gradients g = LayerNormReference.backward(dyd, x, fwd.mean(), fwd.rstd(), gamma, rows,
                    cols);
            String what = "layerNorm ref vs finite diff ";
            Tolerance fd = FiniteDifferences.SCALED_TOLERANCE;
            fd.assertClose(what + "dx", FiniteDifferences.gradientScaled(v -> FiniteDifferences.dot(dy,
                    LayerNormReference.forward(v, gamma, beta, rows, cols, eps).y()), x), g.dx());
            fd.assertClose(what + "dgamma", FiniteDifferences.gradientScaled(v -> FiniteDifferences.dot(dy,
                    LayerNormReference.forward(x, v, beta, rows, cols, eps).y()), gamma), g.dgamma());
            fd.assertClose(what + "dbeta", FiniteDifferences.gradientScaled(v -> FiniteDifferences.dot(dy,
                    LayerNormReference.forward(x, gamma, v, rows, cols, eps).y()), beta), g.dbeta());

            LayerNormReference.Forward plain = LayerNormReference.forward(x, null, null, rows, cols, eps);
            fd.assertClose(what + "dx", FiniteDifferences.gradientScaled(v -> FiniteDifferences.dot(dy,
                    LayerNormReference.forward(v, null, null, rows, cols, eps).y()), x),
                    LayerNormReference.backward(dyd, x, plain.mean(), plain.rstd(), null, rows, cols).dx());
        }
    }

    /**
     * Discussion 04, section 2(a), eps = 0, without gamma, with dy = 1: the loss is sum(y) = sum(xhat) + const,
     * and every row of xhat sums to 0 whatever x, so dx = 0; dbeta counts the 3 rows and dgamma sums xhat over
     * them, from the worksheet's closed forms: rows [-1, -1, 1, 1], [-1, -1/3, -1/3, 5/3] and
     * [-1, -1, -1, 3] / sqrt(3).
     */
    @Test
    void worksheetSection2BackwardWithUnitGradient() {
        double s3 = Math.sqrt(3);
        double[] dgamma = {-2 - 1 / s3, -4.0 / 3 - 1 / s3, 2.0 / 3 - 1 / s3, 8.0 / 3 + s3};
        try (Tensor x = Tensor.of(new float[] {4, 4, 8, 8, 0, 2, 2, 8, 1, 1, 1, 5}, 3, 4);
                Tensor mean = Tensor.zeros(3);
                Tensor rstd = Tensor.zeros(3);
                Tensor y = Tensor.zeros(3, 4);
                Tensor dy = Tensor.zeros(3, 4).fill(1);
                Tensor dx = Tensor.zeros(3, 4).fill(Float.NaN);
                Tensor dg = Tensor.zeros(4);
                Tensor db = Tensor.zeros(4)) {
            LayerNormOps.forward(y, mean, rstd, x, null, null, 0f);
            LayerNormOps.backward(dx, dg, db, dy, x, mean, rstd, null, false);
            Tolerance.of(1e-6, 0).assertClose("layerNorm worksheet dx", new double[12], dx.toFloatArray());
            Tolerance.of(1e-6, 2e-7).assertClose("layerNorm worksheet dgamma", dgamma, dg.toFloatArray());
            Tolerance.of(0, 0).assertClose("layerNorm worksheet dbeta", new double[] {3, 3, 3, 3}, db.toFloatArray());
        }
    }

    static Stream<Arguments> backwardShapes() {
        return Stream.concat(shapes(), Stream.of(Arguments.of(4, 128), Arguments.of(4, 256), Arguments.of(4, 20),
                Arguments.of(4, 1000)));
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("backwardShapes")
    void backwardMatchesReference(int rows, int cols) {
        compareBackward(BackwardCase.of(rows, cols, 0.5, true), false);
    }

    @Test
    void backwardWithoutGamma() {
        compareBackward(BackwardCase.of(33, 129, 0.5, false), false);
    }

    /**
     * Mean 1e4, spread 1, against the exact (double) statistics: the float mean alone would put xhat off by up
     * to ulp(1e4) / 2 = 4.9e-4 per row, which moves dgamma by some 5e-3, 200 times its tolerance (measured with
     * the low part zeroed); the low part the kernel recovers keeps xhat to a few float roundings.
     */
    @Test
    void backwardLargeMeanSmallSpread() {
        compareBackward(BackwardCase.of(16, 1000, 1e4, true), true);
    }

    /**
     * accumulate = true adds the new gradient to what dgamma and dbeta hold, as PyTorch's {@code .grad +=}: the
     * result is the float sum of the old values and of the gradient that accumulate = false writes, bit for bit,
     * while dx, an activation's gradient, is overwritten either way.
     */
    @Test
    void accumulateAddsToTheParameterGradients() {
        BackwardCase c = BackwardCase.of(129, 33, 0.5, true);
        float[][] fresh = c.run(null, false);
        float[][] old = {TestData.normal(1, 129 * 33, 0, 1), TestData.normal(2, 33, 0, 1),
            TestData.normal(3, 33, 0, 1)};
        float[][] accumulated = c.run(old, true);
        Tolerance.assertBitIdentical("layerNorm backward accumulate dx", fresh[0], accumulated[0]);
        for (int k = 1; k < GRADIENTS.length; k++) {
            Tolerance.assertBitIdentical("layerNorm backward accumulate " + GRADIENTS[k],
                    LinearTest.floatSum(old[k], fresh[k]), accumulated[k]);
        }
    }

    /** Each gradient alone (the others null) has the bits it has when all three are computed. */
    @Test
    void backwardOptionalGradients() {
        BackwardCase c = BackwardCase.of(33, 129, 0.5, true);
        float[][] all = c.run(null, false);
        try (Tensor dy = Tensor.of(c.dy, 33, 129); Tensor x = Tensor.of(c.x, 33, 129);
                Tensor g = Tensor.of(c.gamma, 129); Tensor mean = Tensor.of(c.mean, 33);
                Tensor rstd = Tensor.of(c.rstd, 33);
                Tensor dx = Tensor.zeros(33, 129); Tensor dg = Tensor.zeros(129); Tensor db = Tensor.zeros(129)) {
            LayerNormOps.backward(dx, null, null, dy, x, mean, rstd, g, false);
            LayerNormOps.backward(null, dg, null, dy, x, mean, rstd, g, false);
            LayerNormOps.backward(null, null, db, dy, x, mean, rstd, g, false);
            LayerNormOps.backward(null, null, null, dy, x, mean, rstd, g, false);
            Tolerance.assertBitIdentical("layerNorm backward dx alone", all[0], dx.toFloatArray());
            Tolerance.assertBitIdentical("layerNorm backward dgamma alone", all[1], dg.toFloatArray());
            Tolerance.assertBitIdentical("layerNorm backward dbeta alone", all[2], db.toFloatArray());
        }
    }

    @Test
    void backwardHigherRankNormalizesTheLastDimension() {
        BackwardCase c = BackwardCase.of(6, 5, 0.5, true);
        float[][] flat = c.run(null, false);
        try (Tensor dy = Tensor.of(c.dy, 2, 3, 5); Tensor x = Tensor.of(c.x, 2, 3, 5);
                Tensor g = Tensor.of(c.gamma, 5); Tensor mean = Tensor.of(c.mean, 6);
                Tensor rstd = Tensor.of(c.rstd, 6);
                Tensor dx = Tensor.zeros(2, 3, 5); Tensor dg = Tensor.zeros(5); Tensor db = Tensor.zeros(5)) {
            LayerNormOps.backward(dx, dg, db, dy, x, mean, rstd, g, false);
            Tolerance.assertBitIdentical("layerNorm backward rank-3 dx", flat[0], dx.toFloatArray());
            Tolerance.assertBitIdentical("layerNorm backward rank-3 dgamma", flat[1], dg.toFloatArray());
            Tolerance.assertBitIdentical("layerNorm backward rank-3 dbeta", flat[2], db.toFloatArray());
        }
    }

    @Test
    void backwardSameResultWithOneTwoAndFourThreads() {
        for (BackwardCase c : List.of(BackwardCase.of(1031, 257, 0.5, true), BackwardCase.of(64, 1024, 0.5, true))) {
            Threads.assertSameAtEachCount("layerNorm backward", GRADIENTS, () -> c.run(null, false));
        }
    }

    @Test
    void backwardBadArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            Tensor dy = Tensor.zeros(arena, 3, 4);
            Tensor dx = Tensor.zeros(arena, 3, 4);
            Tensor mean = Tensor.zeros(arena, 3);
            Tensor rstd = Tensor.zeros(arena, 3);
            Tensor gamma = Tensor.zeros(arena, 4);
            Tensor dg = Tensor.zeros(arena, 4);
            Tensor db = Tensor.zeros(arena, 4);
            Tensor v5 = Tensor.zeros(arena, 5);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LayerNormOps.backward(dx, dg, db,
                    Tensor.zeros(arena, 4, 3), x, mean, rstd, gamma, false)),
                    "layerNormBackward", "dy", "[3, 4]", "[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LayerNormOps.backward(
                    Tensor.zeros(arena, 12), dg, db, dy, x, mean, rstd, gamma, false)), "dx", "[3, 4]", "[12]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, v5, db, dy, x, mean, rstd, gamma, false)),
                    "dgamma", "[4]", "[5]", "[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, dg, v5, dy, x, mean, rstd, gamma, false)), "dbeta", "[4]", "[5]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, dg, db, dy, x, mean, rstd, v5, false)), "gamma", "[4]", "[5]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, dg, db, dy, x, gamma, rstd, null, false)),
                    "mean", "[3]", "[4]", "[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, dg, db, dy, x, mean, gamma, null, false)), "rstd", "[3]", "[4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, dg, db, dy, x, null, rstd, null, false)), "mean", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, dg, db, null, x, mean, rstd, null, false)), "dy", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dy, dg, db, dy, x, mean, rstd, null, false)),
                    "dx", "dy", "same tensor", "[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, gamma, db, dy, x, mean, rstd, gamma, false)),
                    "dgamma", "gamma", "same tensor", "[4]");
            Tensor intRstd = Tensor.zeros(arena, DType.INT64, 3);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.backward(dx, dg, db, dy, x, mean, intRstd, null, false)),
                    "rstd", "float32", "int64[3]");
            Tensor closed = Tensor.zeros(4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> LayerNormOps.backward(dx, dg, closed, dy, x, mean, rstd, null, false)), "dbeta", "closed");
        }
    }

    /**
     * Tolerances of dx, dgamma and dbeta (see the class comment) for dy, x, gamma (null for none) and the
     * statistics the reference is given, where the mean the kernel subtracts may lie {@code meanError} from
     * {@code mean}.
     */
    static Tolerance[] backwardTolerances(double[] dy, double[] x, double[] mean, double[] rstd, double[] gamma,
            int rows, int cols, double meanError) {
        double maxRstd = maxAbs(rstd);
        double maxXhat = 0;
        double maxG = 0;
        for (int i = 0; i < rows * cols; i++) {
            maxXhat = Math.max(maxXhat, Math.abs((x[i] - mean[i / cols]) * rstd[i / cols]));
            maxG = Math.max(maxG, Math.abs(gamma == null ? dy[i] : dy[i] * gamma[i % cols]));
        }
        double xhatError = 3 * U * maxXhat + maxRstd * meanError;
        double maxDy = maxAbs(dy);
        return new Tolerance[] {Tolerance.of(4 * maxRstd * maxG * maxXhat * xhatError, 2 * U),
            Tolerance.of(2 * maxDy * xhatError, 2 * U).forReduction(rows),
            Tolerance.of(U * maxDy, 2 * U).forReduction(rows)};
    }

    private static double maxAbs(double[] a) {
        return Arrays.stream(a).map(Math::abs).max().orElse(0);
    }

    /**
     * Native backward against the reference, which gets either the saved float statistics of the native forward
     * or, with {@code exactStatistics}, the reference forward's double ones.
     */
    private static void compareBackward(BackwardCase c, boolean exactStatistics) {
        double[] x = TestData.widen(c.x);
        double[] gamma = TestData.widen(c.gamma);
        double[] mean = TestData.widen(c.mean);
        double[] rstd = TestData.widen(c.rstd);
        double meanError = U * maxAbs(mean);
        if (exactStatistics) {
            LayerNormReference.Forward exact = LayerNormReference.forward(x, gamma, null, c.rows, c.cols, c.eps);
            mean = exact.mean();
            rstd = exact.rstd();
            meanError = 0;
        }
        double[] dy = TestData.widen(c.dy);
        LayerNormReference.Gradients ref = LayerNormReference.backward(dy, x, mean, rstd, gamma, c.rows, c.cols);
        Tolerance[] tol = backwardTolerances(dy, x, mean, rstd, gamma, c.rows, c.cols, meanError);
        double[][] expected = {ref.dx(), ref.dgamma(), ref.dbeta()};
        float[][] actual = c.run(null, false);
        String shape = " [" + c.rows + "x" + c.cols + "]";
        for (int k = 0; k < GRADIENTS.length; k++) {
            tol[k].assertClose("layerNorm backward " + GRADIENTS[k] + shape, expected[k], actual[k]);
        }
    }

    private static void compare(int rows, int cols, float[] x, float[] gamma, float[] beta, float eps,
            Tolerance tol) {
        LayerNormReference.Forward ref = LayerNormReference.forward(x, gamma, beta, rows, cols, eps);
        try (Tensor xt = Tensor.of(x, rows, cols);
                Tensor g = gamma == null ? null : Tensor.of(gamma, cols);
                Tensor b = beta == null ? null : Tensor.of(beta, cols);
                Tensor y = Tensor.zeros(rows, cols);
                Tensor mean = Tensor.zeros(rows);
                Tensor rstd = Tensor.zeros(rows)) {
            LayerNormOps.forward(y, mean, rstd, xt, g, b, eps);
            String shape = "[" + rows + "x" + cols + "]";
            tol.assertClose("layerNorm y " + shape, ref.y(), y.toFloatArray());
            STATS.assertClose("layerNorm mean " + shape, ref.mean(), mean.toFloatArray());
            STATS.assertClose("layerNorm rstd " + shape, ref.rstd(), rstd.toFloatArray());
        }
    }

    /**
     * Seeded backward data: x ~ N(mean, 4), gamma ~ N(1, 1/4) (or none), dy ~ N(0, 1), and the saved mean and
     * rstd of the native forward with eps = 0 for a large mean (as in {@link #largeMeanSmallSpread}), else 1e-5.
     */
    private record BackwardCase(int rows, int cols, float eps, float[] x, float[] gamma, float[] dy, float[] mean,
            float[] rstd) {
        static BackwardCase of(int rows, int cols, double mean, boolean affine) {
            long seed = 5_000_011L * rows + cols;
            float eps = mean > 100 ? 0f : 1e-5f;
            float[] x = TestData.normal(seed, rows * cols, mean, mean > 100 ? 1 : 2);
            float[] gamma = affine ? TestData.normal(seed + 1, cols, 1, 0.5) : null;
            try (Tensor xt = Tensor.of(x, rows, cols); Tensor y = Tensor.zeros(rows, cols);
                    Tensor m = Tensor.zeros(rows); Tensor r = Tensor.zeros(rows)) {
                LayerNormOps.forward(y, m, r, xt, null, null, eps);
                return new BackwardCase(rows, cols, eps, x, gamma, TestData.normal(seed + 2, rows * cols, 0, 1),
                        m.toFloatArray(), r.toFloatArray());
            }
        }

        /** dx, dgamma and dbeta of the native op, starting from {@code initial} (or zeros when null). */
        float[][] run(float[][] initial, boolean accumulate) {
            try (Tensor dyt = Tensor.of(dy, rows, cols); Tensor xt = Tensor.of(x, rows, cols);
                    Tensor g = gamma == null ? null : Tensor.of(gamma, cols);
                    Tensor m = Tensor.of(mean, rows); Tensor r = Tensor.of(rstd, rows);
                    Tensor dx = initial == null ? Tensor.zeros(rows, cols) : Tensor.of(initial[0], rows, cols);
                    Tensor dg = initial == null ? Tensor.zeros(cols) : Tensor.of(initial[1], cols);
                    Tensor db = initial == null ? Tensor.zeros(cols) : Tensor.of(initial[2], cols)) {
                LayerNormOps.backward(dx, dg, db, dyt, xt, m, r, g, accumulate);
                return new float[][] {dx.toFloatArray(), dg.toFloatArray(), db.toFloatArray()};
            }
        }
    }
}
