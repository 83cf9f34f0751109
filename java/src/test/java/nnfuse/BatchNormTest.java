package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.reference.BatchNormReference;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * BatchNorm forward in training and eval mode: the worksheet's example against
 * exact closed forms, running statistics against PyTorch's update rule in
 * closed form, native against the double reference on awkward shapes,
 * degenerate columns, bad input, and determinism across thread counts.
 *
 * <p>Tolerances: y is a float32 rounding of ((x - hi) - lo) * scale + beta, where
 * the mean (hi + lo) and scale = rstd * gamma are single roundings of values
 * computed in double and x - hi is exact near the mean, so a few ulps of the
 * largest term bound the error: atol 1e-5 + rtol 1e-5 leaves a wide margin on
 * data of unit scale, and on the worksheet's small integers atol 1e-6 + rtol 2e-7
 * does. The saved and running statistics are single roundings of double values
 * (the running ones one per step): atol 1e-6 + rtol 1e-6, and rtol 1e-7 where the
 * exact value is a small integer.
 */
class BatchNormTest {
    private static final Tolerance Y = Tolerance.of(1e-5, 1e-5);
    private static final Tolerance STATS = Tolerance.of(1e-6, 1e-6);
    private static final Tolerance WORKSHEET_Y = Tolerance.of(1e-6, 2e-7);
    private static final Tolerance ONE_ROUNDING = Tolerance.of(0, 1e-7);
    private static final Tolerance EXACT = Tolerance.of(0, 0);
    private static final float DEFAULT_M = BatchNormOps.DEFAULT_MOMENTUM;

    /** Discussion 04, section 3(a): X[3, 4], gamma, beta, eps = 0. */
    private static final float[] WS_X = {2, 2, 1, 1, 2, 5, 4, 1, 5, 5, 10, 10};
    private static final float[] WS_GAMMA = {1, 2, 3, 4};
    private static final float[] WS_BETA = {0, -1, 1, 0};
    private static final double[] WS_MEAN = {3, 4, 5, 4};
    private static final double[] WS_BIASED_VAR = {2, 2, 14, 18};
    /** WS_BIASED_VAR * N / (N - 1) with N = 3: what PyTorch puts into the running variance. */
    private static final double[] WS_UNBIASED_VAR = {3, 3, 21, 27};
    /** The worksheet's printed answer, two decimals, row-major. */
    private static final double[] WS_PRINTED = {
        -0.71, -3.82, -2.21, -2.84,
        -0.71, 0.42, 0.19, -2.84,
        1.41, 0.42, 5.02, 5.64,
    };
    /** N for the random shapes; C runs over TestData.AWKWARD_SIZES. */
    private static final int[] BATCH_SIZES = {2, 3, 7, 8, 31, 33, 129, 4097};
    private static final long MAX_RANDOM_ELEMENTS = 1 << 20;

    /** Exact closed forms of the worksheet's answer: (x - mean) / sqrt(var) * gamma + beta per column. */
    private static double[] worksheetExactY() {
        double r2 = Math.sqrt(2);
        double r14 = Math.sqrt(14);
        double r18 = Math.sqrt(18);
        return new double[] {
            -1 / r2, 2 * (-2 / r2) - 1, 3 * (-4 / r14) + 1, 4 * (-3 / r18),
            -1 / r2, 2 * (1 / r2) - 1, 3 * (-1 / r14) + 1, 4 * (-3 / r18),
            2 / r2, 2 * (1 / r2) - 1, 3 * (5 / r14) + 1, 4 * (6 / r18),
        };
    }

    @Test
    void worksheetSection3Example() {
        Outputs out = train(WS_X, new float[] {7, -7, 0.5f, 100}, new float[] {9, 0.25f, 1, 1e6f}, WS_GAMMA,
                WS_BETA, 3, 4, 0f, 1f);
        WORKSHEET_Y.assertClose("batchNorm worksheet y", worksheetExactY(), out.y());
        EXACT.assertClose("batchNorm worksheet mean", WS_MEAN, out.mean());
        double[] biasedVar = new double[4];
        for (int j = 0; j < 4; j++) {
            biasedVar[j] = 1 / ((double) out.rstd()[j] * out.rstd()[j]);
        }
        // The float rstd carries one rounding, which squaring doubles.
        Tolerance.of(0, 3e-7).assertClose("batchNorm worksheet biased var", WS_BIASED_VAR, toFloats(biasedVar));
        // Momentum 1 replaces the running statistics with the batch's, the variance unbiased.
        ONE_ROUNDING.assertClose("batchNorm worksheet running mean", WS_MEAN, out.runningMean());
        ONE_ROUNDING.assertClose("batchNorm worksheet running var", WS_UNBIASED_VAR, out.runningVar());
    }

    /**
     * The worksheet rounds x-hat to two decimals before scaling, so 8 of its 12
     * printed values differ in the second decimal from the exact result: -3.82
     * (exact -3.828), 0.42 twice (0.414), 0.19 (0.198), 5.02 (5.009), -2.84
     * twice (-2.828) and 5.64 (5.657). The kernel agrees with the exact values
     * to two decimals everywhere, and the worksheet is off by at most 0.02
     * (a rounding of x-hat, at most 0.005, times gamma, at most 4).
     */
    @Test
    void worksheetPrintedValuesDifferOnlyByItsRounding() {
        int[] documented = {1, 3, 5, 6, 7, 9, 10, 11};
        double[] exact = worksheetExactY();
        float[] y = train(WS_X, null, null, WS_GAMMA, WS_BETA, 3, 4, 0f, DEFAULT_M).y();
        List<Integer> differing = new ArrayList<>();
        for (int i = 0; i < exact.length; i++) {
            long exactHundredths = Math.round(exact[i] * 100);
            assertEquals(exactHundredths, Math.round(y[i] * 100.0), "kernel y to two decimals at " + i);
            if (Math.round(WS_PRINTED[i] * 100) != exactHundredths) {
                differing.add(i);
            }
            assertTrue(Math.abs(WS_PRINTED[i] - exact[i]) <= 0.02, "worksheet value " + WS_PRINTED[i] + " at " + i);
        }
        assertEquals(Arrays.stream(documented).boxed().toList(), differing, "indices where the worksheet differs");
    }

    /** PyTorch's defaults (running mean 0, variance 1, momentum 0.1) after one step on the worksheet's batch. */
    @Test
    void runningStatisticsAfterOneStep() {
        double m = DEFAULT_M;
        Outputs out = train(WS_X, new float[4], ones(4), WS_GAMMA, WS_BETA, 3, 4, BatchNormOps.DEFAULT_EPS, DEFAULT_M);
        double[] mean = new double[4];
        double[] var = new double[4];
        for (int j = 0; j < 4; j++) {
            mean[j] = m * WS_MEAN[j];
            var[j] = m * WS_UNBIASED_VAR[j] + (1 - m) * 1;
        }
        STATS.assertClose("batchNorm running mean", mean, out.runningMean());
        STATS.assertClose("batchNorm running var", var, out.runningVar());
    }

    /** The same batch k times: running = (1 - m)^k * initial + (1 - (1 - m)^k) * batch statistic. */
    @Test
    void runningStatisticsAfterSeveralStepsOfTheSameBatch() {
        int steps = 5;
        float[] initialMean = {1, -2, 0.5f, 8};
        float[] initialVar = {0.5f, 4, 1, 2};
        float[] runningMean = initialMean.clone();
        float[] runningVar = initialVar.clone();
        for (int k = 0; k < steps; k++) {
            Outputs out = train(WS_X, runningMean, runningVar, null, null, 3, 4, 1e-5f, DEFAULT_M);
            runningMean = out.runningMean();
            runningVar = out.runningVar();
        }
        double keep = Math.pow(1 - (double) DEFAULT_M, steps);
        double[] mean = new double[4];
        double[] var = new double[4];
        for (int j = 0; j < 4; j++) {
            mean[j] = keep * initialMean[j] + (1 - keep) * WS_MEAN[j];
            var[j] = keep * initialVar[j] + (1 - keep) * WS_UNBIASED_VAR[j];
        }
        STATS.assertClose("batchNorm running mean after steps", mean, runningMean);
        STATS.assertClose("batchNorm running var after steps", var, runningVar);
    }

    /**
     * PyTorch's momentum=None is m = 1 / numBatchesTracked, a cumulative average: after
     * batches X + 0, X + 1, X + 2, X + 3 the running mean is the worksheet's + 1.5 and
     * the running variance its unbiased variance (a shift leaves it unchanged).
     */
    @Test
    void cumulativeAverageOfRunningStatistics() {
        float[] runningMean = {5, 5, 5, 5};
        float[] runningVar = {9, 9, 9, 9};
        for (int k = 1; k <= 4; k++) {
            float[] x = WS_X.clone();
            for (int i = 0; i < x.length; i++) {
                x[i] += k - 1;
            }
            Outputs out = train(x, runningMean, runningVar, WS_GAMMA, WS_BETA, 3, 4, 1e-5f, 1f / k);
            runningMean = out.runningMean();
            runningVar = out.runningVar();
        }
        double[] mean = Arrays.stream(WS_MEAN).map(v -> v + 1.5).toArray();
        STATS.assertClose("batchNorm cumulative running mean", mean, runningMean);
        STATS.assertClose("batchNorm cumulative running var", WS_UNBIASED_VAR, runningVar);
    }

    @Test
    void momentumZeroKeepsTheRunningStatistics() {
        float[] runningMean = TestData.normal(21, 33, 0, 1);
        float[] runningVar = TestData.uniform(22, 33, 0.5, 2);
        float[] x = TestData.normal(23, 7 * 33, 1, 3);
        Outputs out = train(x, runningMean, runningVar, null, null, 7, 33, 1e-5f, 0f);
        Tolerance.assertBitIdentical("batchNorm momentum 0 running mean", runningMean, out.runningMean());
        Tolerance.assertBitIdentical("batchNorm momentum 0 running var", runningVar, out.runningVar());
    }

    /** Momentum 1 replaces the running statistics with the batch's: (1 - 1) * running vanishes, however large. */
    @Test
    void momentumOneTakesTheBatchStatistics() {
        float[] x = TestData.normal(24, 31 * 8, -2, 0.5);
        float[] huge = new float[8];
        Arrays.fill(huge, 3e38f);
        BatchNormReference.Forward ref = BatchNormReference.forwardTraining(x, huge, huge, null, null, 31, 8, 1e-5, 1);
        Outputs out = train(x, huge, huge, null, null, 31, 8, 1e-5f, 1f);
        STATS.assertClose("batchNorm momentum 1 running mean", ref.mean(), out.runningMean());
        STATS.assertClose("batchNorm momentum 1 running var", ref.runningVar(), out.runningVar());
    }

    /** Running statistics are not checked: NaN stays NaN in training and poisons its column in eval. */
    @Test
    void nanRunningVariancePropagates() {
        float[] runningVar = {1, Float.NaN, 1};
        float[] x = TestData.normal(25, 4 * 3, 0, 1);
        Outputs out = train(x, new float[3], runningVar, null, null, 4, 3, 1e-5f, DEFAULT_M);
        assertTrue(Float.isNaN(out.runningVar()[1]), "NaN running var stays NaN");
        assertTrue(Float.isFinite(out.runningVar()[0]) && Float.isFinite(out.runningVar()[2]));
        for (float v : out.y()) {
            assertTrue(Float.isFinite(v), "training normalizes with batch statistics");
        }
        float[] y = eval(x, new float[3], runningVar, null, null, 4, 3, 1e-5f);
        for (int i = 0; i < y.length; i++) {
            assertEquals(i % 3 == 1, Float.isNaN(y[i]), "eval y at " + i);
        }
    }

    /** PyTorch's initial running statistics (mean 0, variance 1): y = x / sqrt(1 + eps) * gamma + beta. */
    @Test
    void evalWithDefaultRunningStatistics() {
        int n = 7;
        int c = 33;
        float eps = BatchNormOps.DEFAULT_EPS;
        float[] x = TestData.normal(31, n * c, 0.5, 2);
        float[] gamma = TestData.normal(32, c, 1, 0.5);
        float[] beta = TestData.normal(33, c, 0, 0.5);
        double[] expected = new double[n * c];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = x[i] / Math.sqrt(1 + (double) eps) * gamma[i % c] + beta[i % c];
        }
        float[] y = eval(x, new float[c], ones(c), gamma, beta, n, c, eps);
        Y.assertClose("batchNorm eval default stats y", expected, y);
    }

    @Test
    void evalAcceptsASingleSample() {
        compareEval(1, 129, TestData.normal(34, 129, 0, 1), TestData.normal(35, 129, 0, 1),
                TestData.uniform(36, 129, 0.5, 2), TestData.normal(37, 129, 1, 1), null, 1e-5f);
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int n : BATCH_SIZES) {
            for (int c : TestData.AWKWARD_SIZES) {
                if ((long) n * c <= MAX_RANDOM_ELEMENTS) {
                    b.add(Arguments.of(n, c));
                }
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void matchesReference(int n, int c) {
        long seed = 131L * n + c;
        float[] x = TestData.normal(seed, n * c, 0.5, 2);
        float[] gamma = TestData.normal(seed + 1, c, 1, 0.5);
        float[] beta = TestData.normal(seed + 2, c, 0, 0.5);
        float[] runningMean = TestData.normal(seed + 3, c, 0, 1);
        float[] runningVar = TestData.uniform(seed + 4, c, 0.5, 2);
        compareTraining(n, c, x, runningMean, runningVar, gamma, beta, 1e-5f, DEFAULT_M, Y);
        compareEval(n, c, x, runningMean, runningVar, gamma, beta, 1e-5f);
    }

    @Test
    void withoutAffineParameters() {
        float[] x = TestData.normal(41, 33 * 129, 0, 1);
        float[] gamma = TestData.normal(42, 129, 1, 1);
        float[] beta = TestData.normal(43, 129, 0, 1);
        float[] runningMean = TestData.normal(44, 129, 0, 1);
        float[] runningVar = TestData.uniform(45, 129, 0.5, 2);
        compareTraining(33, 129, x, runningMean, runningVar, null, null, 1e-5f, DEFAULT_M, Y);
        compareTraining(33, 129, x, runningMean, runningVar, gamma, null, 1e-5f, DEFAULT_M, Y);
        compareTraining(33, 129, x, runningMean, runningVar, null, beta, 1e-5f, DEFAULT_M, Y);
        compareEval(33, 129, x, runningMean, runningVar, null, null, 1e-5f);
        compareEval(33, 129, x, runningMean, runningVar, gamma, null, 1e-5f);
    }

    /** track_running_stats=False: no running tensors, the batch statistics are still saved. */
    @Test
    void withoutRunningStatistics() {
        float[] x = TestData.normal(46, 31 * 127, 3, 2);
        compareTraining(31, 127, x, null, null, TestData.normal(47, 127, 1, 1), null, 1e-5f, DEFAULT_M, Y);
        try (Tensor xt = Tensor.of(x, 31, 127); Tensor y = BatchNormOps.forwardTraining(xt, null, null, null, null,
                BatchNormOps.DEFAULT_EPS, BatchNormOps.DEFAULT_MOMENTUM)) {
            Y.assertClose("batchNorm no running stats allocating y",
                    BatchNormReference.forwardTraining(x, null, null, null, null, 31, 127, 1e-5, 0.1).y(),
                    y.toFloatArray());
        }
    }

    /** Mean 1e4, spread 1: E[x^2] - E[x]^2 in float would lose every digit of the variance here. */
    @Test
    void largeMeanSmallSpread() {
        int n = 1000;
        int c = 37;
        float[] x = TestData.normal(51, n * c, 1e4, 1);
        compareTraining(n, c, x, new float[c], ones(c), null, null, 0f, DEFAULT_M, Y);
        compareTraining(n, c, x, new float[c], ones(c), TestData.normal(52, c, 1, 1), null, 1e-5f, DEFAULT_M, Y);
    }

    /**
     * A constant column has zero variance: with eps > 0 it becomes beta, and with eps = 0 too,
     * since PyTorch's InvStd gives rstd 0 there.
     */
    @Test
    void constantColumnGivesBeta() {
        int n = 5;
        int c = 3;
        float[] x = TestData.normal(53, n * c, 0, 1);
        for (int r = 0; r < n; r++) {
            x[r * c + 1] = 3.25f;
        }
        float[] gamma = {2, 2, 2};
        float[] beta = {-1, 0.75f, 1};
        for (float eps : new float[] {1e-5f, 0f}) {
            Outputs out = train(x, new float[c], ones(c), gamma, beta, n, c, eps, DEFAULT_M);
            for (int r = 0; r < n; r++) {
                assertEquals(0.75f, out.y()[r * c + 1], "constant column y, eps " + eps);
            }
            assertEquals(eps == 0 ? 0 : (float) (1 / Math.sqrt(eps)), out.rstd()[1], "constant column rstd");
            assertEquals(3.25f, out.mean()[1]);
        }
    }

    @Test
    void inPlace() {
        float[] data = TestData.normal(61, 7 * 31, 0, 1);
        BatchNormReference.Forward ref = BatchNormReference.forwardTraining(data, null, null, null, null, 7, 31, 1e-5,
                0.1);
        try (Tensor x = Tensor.of(data, 7, 31)) {
            BatchNormOps.forwardTraining(x, null, null, null, null, x, null, null, 1e-5f, 0.1f);
            Y.assertClose("batchNorm in place y", ref.y(), x.toFloatArray());
        }
    }

    /** Column tiles (1000 x 513) and row tiles merged across threads (4097 x 40): the same bits at 1, 2, 4 threads. */
    @Test
    void deterministicAcrossThreadCounts() {
        for (int[] shape : new int[][] {{1000, 513}, {4097, 40}}) {
            int n = shape[0];
            int c = shape[1];
            float[] x = TestData.normal(71 + c, n * c, 2, 3);
            float[] gamma = TestData.normal(72, c, 1, 0.5);
            float[] beta = TestData.normal(73, c, 0, 0.5);
            float[] runningMean = TestData.normal(74, c, 0, 1);
            List<Outputs> runs = Threads.atEachCount(
                    () -> train(x, runningMean, ones(c), gamma, beta, n, c, 1e-5f, DEFAULT_M));
            List<float[]> evals = Threads.atEachCount(
                    () -> eval(x, runningMean, ones(c), gamma, beta, n, c, 1e-5f));
            String shapeName = " [" + n + "x" + c + "]";
            for (int i = 1; i < runs.size(); i++) {
                Outputs a = runs.get(0);
                Outputs b = runs.get(i);
                Tolerance.assertBitIdentical("batchNorm y" + shapeName, a.y(), b.y());
                Tolerance.assertBitIdentical("batchNorm mean" + shapeName, a.mean(), b.mean());
                Tolerance.assertBitIdentical("batchNorm rstd" + shapeName, a.rstd(), b.rstd());
                Tolerance.assertBitIdentical("batchNorm running mean" + shapeName, a.runningMean(), b.runningMean());
                Tolerance.assertBitIdentical("batchNorm running var" + shapeName, a.runningVar(), b.runningVar());
                Tolerance.assertBitIdentical("batchNorm eval y" + shapeName, evals.get(0), evals.get(i));
            }
        }
    }

    @Test
    void singleSampleTrainingIsAnError() {
        try (Tensor x = Tensor.zeros(1, 4); Tensor rm = Tensor.zeros(4); Tensor rv = Tensor.zeros(4).fill(1)) {
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(x, rm, rv, null, null, 1e-5f, 0.1f)),
                    "Expected more than 1 value per channel when training, got input size [1, 4]");
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            Tensor y = Tensor.zeros(arena, 3, 4);
            Tensor c4 = Tensor.zeros(arena, 4);
            Tensor var4 = Tensor.zeros(arena, 4);
            Tensor c5 = Tensor.zeros(arena, 5);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(null, null, null, null, null, 1e-5f, 0.1f)), "x", "null");
            Tensor rank3 = Tensor.zeros(arena, 2, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(rank3, null, null, null, null, 1e-5f, 0.1f)),
                    "x", "2 dimensions", "[N, C]", "float32[2, 3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardEval(c4, c4, c4, null, null, 1e-5f)), "x", "2 dimensions", "float32[4]");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardEval(labels, c4, c4, null, null, 1e-5f)), "x", "float32", "int64[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(Tensor.zeros(arena, 4, 3), null, null, null, null, x, null,
                            null, 1e-5f, 0.1f)), "y", "[3, 4]", "[4, 3]");
            String[] perChannel = {"saveMean", "saveRstd", "runningMean", "runningVar", "gamma", "beta"};
            for (int i = 0; i < perChannel.length; i++) {
                Tensor[] a = {c4, c4, c4, c4, c4, c4};
                a[i] = c5;
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.forwardTraining(y, a[0], a[1], a[2], a[3], x, a[4], a[5], 1e-5f, 0.1f)),
                        perChannel[i], "[4]", "[5]", "float32[3, 4]");
            }
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardEval(x, c5, c4, null, null, 1e-5f)), "runningMean", "[4]", "[5]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardEval(x, c4, c5, null, null, 1e-5f)), "runningVar", "[4]", "[5]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardEval(x, null, c4, null, null, 1e-5f)), "runningMean", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardEval(x, c4, null, null, null, 1e-5f)), "runningVar", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(x, c4, null, null, null, 1e-5f, 0.1f)),
                    "runningMean", "runningVar", "both", "float32[4]", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(x, null, c4, null, null, 1e-5f, 0.1f)),
                    "runningMean", "runningVar", "both");
            for (float eps : new float[] {-1f, Float.NaN, Float.POSITIVE_INFINITY}) {
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.forwardTraining(x, null, null, null, null, eps, 0.1f)),
                        "eps", Float.toString(eps));
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.forwardEval(x, c4, c4, null, null, eps)), "eps", Float.toString(eps));
            }
            for (float momentum : new float[] {-0.5f, 1.5f, Float.NaN, Float.POSITIVE_INFINITY}) {
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.forwardTraining(x, c4, var4, null, null, 1e-5f, momentum)),
                        "momentum", "[0.0, 1.0]", Float.toString(momentum));
            }
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(y, c4, null, c4, var4, x, null, null, 1e-5f, 0.1f)),
                    "saveMean", "runningMean", "same tensor");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(y, null, c4, null, null, x, c4, null, 1e-5f, 0.1f)),
                    "saveRstd", "gamma", "same tensor");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> BatchNormOps.forwardTraining(y, null, null, c4, var4, x, null, var4, 1e-5f, 0.1f)),
                    "runningVar", "beta", "same tensor");
            Tensor closed = Tensor.zeros(4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> BatchNormOps.forwardTraining(x, closed, c4, null, null, 1e-5f, 0.1f)),
                    "runningMean", "closed");
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> BatchNormOps.forwardEval(x, c4, c4, closed, null, 1e-5f)), "gamma", "closed");
        }
    }

    private record Outputs(float[] y, float[] mean, float[] rstd, float[] runningMean, float[] runningVar) {}

    /** One training step with every output; the running statistics are copied in and out. */
    private static Outputs train(float[] x, float[] runningMean, float[] runningVar, float[] gamma, float[] beta,
            int n, int c, float eps, float momentum) {
        try (Tensor xt = Tensor.of(x, n, c);
                Tensor rm = perChannel(runningMean, c);
                Tensor rv = perChannel(runningVar, c);
                Tensor g = perChannel(gamma, c);
                Tensor b = perChannel(beta, c);
                Tensor y = Tensor.zeros(n, c);
                Tensor mean = Tensor.zeros(c);
                Tensor rstd = Tensor.zeros(c)) {
            BatchNormOps.forwardTraining(y, mean, rstd, rm, rv, xt, g, b, eps, momentum);
            return new Outputs(y.toFloatArray(), mean.toFloatArray(), rstd.toFloatArray(),
                    rm == null ? null : rm.toFloatArray(), rv == null ? null : rv.toFloatArray());
        }
    }

    private static float[] eval(float[] x, float[] runningMean, float[] runningVar, float[] gamma, float[] beta,
            int n, int c, float eps) {
        try (Tensor xt = Tensor.of(x, n, c);
                Tensor rm = perChannel(runningMean, c);
                Tensor rv = perChannel(runningVar, c);
                Tensor g = perChannel(gamma, c);
                Tensor b = perChannel(beta, c);
                Tensor y = BatchNormOps.forwardEval(xt, rm, rv, g, b, eps)) {
            return y.toFloatArray();
        }
    }

    private static void compareTraining(int n, int c, float[] x, float[] runningMean, float[] runningVar,
            float[] gamma, float[] beta, float eps, float momentum, Tolerance yTol) {
        BatchNormReference.Forward ref = BatchNormReference.forwardTraining(x, runningMean, runningVar, gamma, beta, n,
                c, eps, momentum);
        Outputs out = train(x, runningMean, runningVar, gamma, beta, n, c, eps, momentum);
        String shape = " [" + n + "x" + c + "]";
        yTol.assertClose("batchNorm train y" + shape, ref.y(), out.y());
        STATS.assertClose("batchNorm train mean" + shape, ref.mean(), out.mean());
        STATS.assertClose("batchNorm train rstd" + shape, ref.rstd(), out.rstd());
        if (runningMean != null) {
            STATS.assertClose("batchNorm train running mean" + shape, ref.runningMean(), out.runningMean());
            STATS.assertClose("batchNorm train running var" + shape, ref.runningVar(), out.runningVar());
        }
    }

    private static void compareEval(int n, int c, float[] x, float[] runningMean, float[] runningVar, float[] gamma,
            float[] beta, float eps) {
        BatchNormReference.Forward ref = BatchNormReference.forwardEval(x, runningMean, runningVar, gamma, beta, n, c,
                eps);
        Y.assertClose("batchNorm eval y [" + n + "x" + c + "]", ref.y(), eval(x, runningMean, runningVar, gamma, beta,
                n, c, eps));
    }

    private static Tensor perChannel(float[] values, int c) {
        return values == null ? null : Tensor.of(values, c);
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1);
        return v;
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }
}
