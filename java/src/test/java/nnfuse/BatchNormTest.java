package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.bindings.nnfuse_h;
import nnfuse.reference.BatchNormReference;
import nnfuse.testing.AtEachCpuLevel;
import nnfuse.testing.CpuLevels;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * BatchNorm forward in training and eval mode: the worksheet's example against
 * exact closed forms, running statistics against PyTorch's update rule in
 * closed form, native against the double reference on awkward shapes,
 * degenerate columns, bad input, and determinism across thread counts, at each
 * CPU level this machine supports ({@link CpuLevels}; the levels agree bit for
 * bit, which {@code CpuLevelTest} checks).
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
class BatchNormTest extends AtEachCpuLevel {
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

    /**
     * Backward in training and eval mode: the reference against central finite
     * differences of the double reference forward (objective {@code L = sum(dy * y)}),
     * closed forms on the worksheet's batch, native against the reference on
     * awkward shapes, accumulation, in place, determinism, and bad input.
     *
     * <p>Tolerances: finite differences are within about 1e-9 of the exact
     * derivative ({@link FiniteDifferences}), so the reference must agree to
     * atol 1e-7 + rtol 1e-6. The native kernel sums in double and evaluates each
     * dx in double from the same float inputs as the reference (the native
     * forward's saved statistics), rounding once to float: the two differ by
     * that rounding (2^-24 relative) plus double-precision differences in the
     * order of the sums, which are far below 1e-9 for these sizes and scales. So
     * dx, dgamma and dbeta must agree to atol 1e-9 + rtol 1.2e-7 (2^-23: one
     * rounding with a factor of two to spare). The closed forms are exact in
     * double but the kernel rounds its sums to float: rtol 1e-7, and atol 1e-6
     * for exact zeros that come out of cancelling O(1) terms.
     */
    @Nested
    class Backward {
        private static final Tolerance FD = Tolerance.of(1e-7, 1e-6);
        private static final Tolerance GRAD = Tolerance.of(1e-9, 1.2e-7);
        private static final Tolerance CLOSED_FORM = Tolerance.of(1e-6, 1e-7);
        private static final float EPS = BatchNormOps.DEFAULT_EPS;

        @Test
        void trainingReferenceMatchesFiniteDifferences() {
            for (int[] shape : new int[][] {{2, 3}, {5, 4}, {7, 1}, {16, 5}}) {
                int n = shape[0];
                int c = shape[1];
                long seed = 1009L * n + c;
                float[] x = TestData.normal(seed, n * c, 0.5, 2);
                float[] gamma = TestData.normal(seed + 1, c, 1, 0.5);
                float[] beta = TestData.normal(seed + 2, c, 0, 0.5);
                float[] dy = TestData.normal(seed + 3, n * c, 0, 1);
                double[] xd = TestData.widen(x);
                double[] gd = TestData.widen(gamma);
                double[] bd = TestData.widen(beta);
                BatchNormReference.Forward fwd = BatchNormReference.forwardTraining(x, null, null, gamma, beta, n, c,
                        EPS, DEFAULT_M);
                BatchNormReference.Backward ref = BatchNormReference.backwardTraining(dy, x, fwd.mean(), fwd.rstd(),
                        gamma, n, c);
                String what = " [" + n + "x" + c + "]";
                FD.assertClose("batchNorm bwd train dx vs finite differences" + what, FiniteDifferences.gradient(
                        v -> loss(dy, BatchNormReference.forwardTraining(v, null, null, gd, bd, n, c, EPS, 0)), xd),
                        ref.dx());
                FD.assertClose("batchNorm bwd train dgamma vs finite differences" + what, FiniteDifferences.gradient(
                        v -> loss(dy, BatchNormReference.forwardTraining(xd, null, null, v, bd, n, c, EPS, 0)), gd),
                        ref.dgamma());
                FD.assertClose("batchNorm bwd train dbeta vs finite differences" + what, FiniteDifferences.gradient(
                        v -> loss(dy, BatchNormReference.forwardTraining(xd, null, null, gd, v, n, c, EPS, 0)), bd),
                        ref.dbeta());
                BatchNormReference.Backward noGamma = BatchNormReference.backwardTraining(dy, x, fwd.mean(),
                        fwd.rstd(), null, n, c);
                FD.assertClose("batchNorm bwd train no gamma dx vs finite differences" + what,
                        FiniteDifferences.gradient(v -> loss(dy,
                                BatchNormReference.forwardTraining(v, null, null, null, null, n, c, EPS, 0)), xd),
                        noGamma.dx());
            }
        }

        @Test
        void evalReferenceMatchesFiniteDifferences() {
            int n = 5;
            int c = 4;
            float[] x = TestData.normal(1101, n * c, 0.5, 2);
            float[] gamma = TestData.normal(1102, c, 1, 0.5);
            float[] beta = TestData.normal(1103, c, 0, 0.5);
            float[] runningMean = TestData.normal(1104, c, 0, 1);
            float[] runningVar = TestData.uniform(1105, c, 0.5, 2);
            float[] dy = TestData.normal(1106, n * c, 0, 1);
            double[] xd = TestData.widen(x);
            double[] gd = TestData.widen(gamma);
            double[] bd = TestData.widen(beta);
            BatchNormReference.Backward ref = BatchNormReference.backwardEval(dy, x, runningMean, runningVar, gamma, n,
                    c, EPS);
            FD.assertClose("batchNorm bwd eval dx vs finite differences", FiniteDifferences.gradient(
                    v -> loss(dy, BatchNormReference.forwardEval(v, runningMean, runningVar, gd, bd, n, c, EPS)), xd),
                    ref.dx());
            FD.assertClose("batchNorm bwd eval dgamma vs finite differences", FiniteDifferences.gradient(
                    v -> loss(dy, BatchNormReference.forwardEval(xd, runningMean, runningVar, v, bd, n, c, EPS)), gd),
                    ref.dgamma());
            FD.assertClose("batchNorm bwd eval dbeta vs finite differences", FiniteDifferences.gradient(
                    v -> loss(dy, BatchNormReference.forwardEval(xd, runningMean, runningVar, gd, v, n, c, EPS)), bd),
                    ref.dbeta());
        }

        /**
         * Normalization removes shifts and scales of each column, so the training
         * gradient is orthogonal to both: dy = const and dy = xhat give dx = 0.
         * On the worksheet's batch with eps = 0, sum(xhat^2) = N exactly, so
         * dy = xhat gives dgamma = N and dbeta = sum(xhat) = 0, and dy = 1 gives
         * dgamma = 0 and dbeta = N.
         */
        @Test
        void shiftAndScaleDirectionsHaveNoInputGradient() {
            int n = 3;
            int c = 4;
            float[] y = train(WS_X, null, null, null, null, n, c, 0f, DEFAULT_M).y();
            float[] ones = ones(n * c);
            double[] xhat = new double[n * c];
            for (int i = 0; i < xhat.length; i++) {
                xhat[i] = (WS_X[i] - WS_MEAN[i % c]) / Math.sqrt(WS_BIASED_VAR[i % c]);
            }
            Grads alongXhat = backwardTrainingOf(y, WS_X, WS_GAMMA, n, c, 0f);
            CLOSED_FORM.assertClose("batchNorm bwd dy = xhat dx", new double[n * c], alongXhat.dx());
            CLOSED_FORM.assertClose("batchNorm bwd dy = xhat dgamma", new double[] {3, 3, 3, 3}, alongXhat.dgamma());
            CLOSED_FORM.assertClose("batchNorm bwd dy = xhat dbeta", new double[c], alongXhat.dbeta());
            Grads constant = backwardTrainingOf(ones, WS_X, WS_GAMMA, n, c, 0f);
            CLOSED_FORM.assertClose("batchNorm bwd dy = 1 dx", new double[n * c], constant.dx());
            CLOSED_FORM.assertClose("batchNorm bwd dy = 1 dgamma", new double[c], constant.dgamma());
            CLOSED_FORM.assertClose("batchNorm bwd dy = 1 dbeta", new double[] {3, 3, 3, 3}, constant.dbeta());
            CLOSED_FORM.assertClose("batchNorm worksheet xhat", xhat, y);
        }

        @ParameterizedTest(name = "[{0}, {1}]")
        @MethodSource("nnfuse.BatchNormTest#shapes")
        void matchesReference(int n, int c) {
            long seed = 137L * n + c;
            float[] x = TestData.normal(seed, n * c, 0.5, 2);
            float[] gamma = TestData.normal(seed + 1, c, 1, 0.5);
            float[] dy = TestData.normal(seed + 2, n * c, 0, 1);
            float[] runningMean = TestData.normal(seed + 3, c, 0, 1);
            float[] runningVar = TestData.uniform(seed + 4, c, 0.5, 2);
            compareTraining(dy, x, gamma, n, c);
            compareEval(dy, x, runningMean, runningVar, gamma, n, c);
        }

        @Test
        void withoutGammaAndWithLargeMean() {
            int n = 129;
            int c = 33;
            float[] dy = TestData.normal(1201, n * c, 0, 1);
            compareTraining(dy, TestData.normal(1202, n * c, 0, 1), null, n, c);
            compareEval(dy, TestData.normal(1203, n * c, 0, 1), new float[c], ones(c), null, n, c);
            compareTraining(dy, TestData.normal(1204, n * c, 1e4, 1), TestData.normal(1205, c, 1, 1), n, c);
        }

        /** Each output may be left out; the others are unchanged by it. */
        @Test
        void optionalOutputs() {
            int n = 31;
            int c = 7;
            float[] x = TestData.normal(1301, n * c, 1, 2);
            float[] dy = TestData.normal(1302, n * c, 0, 1);
            float[] gamma = TestData.normal(1303, c, 1, 0.5);
            Outputs fwd = train(x, null, null, gamma, null, n, c, EPS, DEFAULT_M);
            Grads all = backwardTraining(dy, x, fwd.mean(), fwd.rstd(), gamma, n, c, null, false);
            try (Tensor dyT = Tensor.of(dy, n, c); Tensor xt = Tensor.of(x, n, c);
                    Tensor mean = Tensor.of(fwd.mean(), c); Tensor rstd = Tensor.of(fwd.rstd(), c);
                    Tensor g = Tensor.of(gamma, c);
                    Tensor dgamma = Tensor.zeros(c);
                    Tensor dx = BatchNormOps.backwardTraining(dyT, xt, mean, rstd, g)) {
                Tolerance.assertBitIdentical("batchNorm bwd dx alone", all.dx(), dx.toFloatArray());
                BatchNormOps.backwardTraining(null, dgamma, null, dyT, xt, mean, rstd, g, false);
                Tolerance.assertBitIdentical("batchNorm bwd dgamma alone", all.dgamma(), dgamma.toFloatArray());
            }
            Grads eval = backwardEval(dy, x, fwd.mean(), ones(c), gamma, n, c, null, false);
            try (Tensor dyT = Tensor.of(dy, n, c); Tensor xt = Tensor.of(x, n, c); Tensor rm = Tensor.of(fwd.mean(), c);
                    Tensor rv = Tensor.of(ones(c), c); Tensor g = Tensor.of(gamma, c);
                    Tensor dx = BatchNormOps.backwardEval(dyT, xt, rm, rv, g, EPS)) {
                Tolerance.assertBitIdentical("batchNorm bwd eval dx alone", eval.dx(), dx.toFloatArray());
            }
        }

        /** accumulate adds the fresh gradient, rounded to float, to dgamma and dbeta; dx is overwritten. */
        @Test
        void accumulateAddsToParameterGradients() {
            int n = 33;
            int c = 129;
            float[] x = TestData.normal(1401, n * c, 1, 2);
            float[] dy = TestData.normal(1402, n * c, 0, 1);
            float[] gamma = TestData.normal(1403, c, 1, 0.5);
            float[] before = TestData.normal(1404, c, 0, 3);
            Outputs fwd = train(x, null, null, gamma, null, n, c, EPS, DEFAULT_M);
            Grads fresh = backwardTraining(dy, x, fwd.mean(), fwd.rstd(), gamma, n, c, null, false);
            Grads overwritten = backwardTraining(dy, x, fwd.mean(), fwd.rstd(), gamma, n, c, before, false);
            Grads accumulated = backwardTraining(dy, x, fwd.mean(), fwd.rstd(), gamma, n, c, before, true);
            Tolerance.assertBitIdentical("batchNorm bwd overwrite dgamma", fresh.dgamma(), overwritten.dgamma());
            Tolerance.assertBitIdentical("batchNorm bwd accumulate dgamma", plus(before, fresh.dgamma()),
                    accumulated.dgamma());
            Tolerance.assertBitIdentical("batchNorm bwd accumulate dbeta", plus(before, fresh.dbeta()),
                    accumulated.dbeta());
            Tolerance.assertBitIdentical("batchNorm bwd accumulate dx", fresh.dx(), accumulated.dx());
            Grads evalFresh = backwardEval(dy, x, fwd.mean(), ones(c), gamma, n, c, null, false);
            Grads evalAccumulated = backwardEval(dy, x, fwd.mean(), ones(c), gamma, n, c, before, true);
            Tolerance.assertBitIdentical("batchNorm bwd eval accumulate dgamma", plus(before, evalFresh.dgamma()),
                    evalAccumulated.dgamma());
            Tolerance.assertBitIdentical("batchNorm bwd eval accumulate dbeta", plus(before, evalFresh.dbeta()),
                    evalAccumulated.dbeta());
        }

        @Test
        void inPlace() {
            int n = 7;
            int c = 31;
            float[] x = TestData.normal(1501, n * c, 0, 1);
            float[] dy = TestData.normal(1502, n * c, 0, 1);
            Outputs fwd = train(x, null, null, null, null, n, c, EPS, DEFAULT_M);
            float[] expected = backwardTraining(dy, x, fwd.mean(), fwd.rstd(), null, n, c, null, false).dx();
            try (Tensor grad = Tensor.of(dy, n, c); Tensor xt = Tensor.of(x, n, c);
                    Tensor mean = Tensor.of(fwd.mean(), c); Tensor rstd = Tensor.of(fwd.rstd(), c)) {
                BatchNormOps.backwardTraining(grad, null, null, grad, xt, mean, rstd, null, false);
                Tolerance.assertBitIdentical("batchNorm bwd in place dx", expected, grad.toFloatArray());
            }
        }

        /** A zero-variance column with eps = 0 has rstd 0 (PyTorch's InvStd): its gradients are 0, not NaN. */
        @Test
        void constantColumnWithZeroEpsHasZeroGradient() {
            int n = 4;
            int c = 2;
            float[] x = {1, 5, 2, 5, 3, 5, 4, 5};
            Outputs fwd = train(x, null, null, null, null, n, c, 0f, DEFAULT_M);
            assertEquals(0f, fwd.rstd()[1]);
            Grads g = backwardTraining(TestData.normal(1601, n * c, 0, 1), x, fwd.mean(), fwd.rstd(),
                    new float[] {2, 3}, n, c, null, false);
            for (int r = 0; r < n; r++) {
                assertEquals(0f, g.dx()[r * c + 1], "dx of the constant column at row " + r);
            }
            assertEquals(0f, g.dgamma()[1]);
        }

        /** Column tiles (1000 x 513) and row tiles merged across threads (4097 x 40): the same bits at 1, 2, 4. */
        @Test
        void deterministicAcrossThreadCounts() {
            for (int[] shape : new int[][] {{1000, 513}, {4097, 40}}) {
                int n = shape[0];
                int c = shape[1];
                float[] x = TestData.normal(1701 + c, n * c, 2, 3);
                float[] dy = TestData.normal(1702 + c, n * c, 0, 1);
                float[] gamma = TestData.normal(1703, c, 1, 0.5);
                Outputs fwd = train(x, null, null, gamma, null, n, c, EPS, DEFAULT_M);
                List<Grads> runs = Threads.atEachCount(
                        () -> backwardTraining(dy, x, fwd.mean(), fwd.rstd(), gamma, n, c, null, false));
                List<Grads> evals = Threads.atEachCount(
                        () -> backwardEval(dy, x, fwd.mean(), ones(c), gamma, n, c, null, false));
                String shapeName = " [" + n + "x" + c + "]";
                for (int i = 1; i < runs.size(); i++) {
                    for (List<Grads> r : List.of(runs, evals)) {
                        Tolerance.assertBitIdentical("batchNorm bwd dx" + shapeName, r.get(0).dx(), r.get(i).dx());
                        Tolerance.assertBitIdentical("batchNorm bwd dgamma" + shapeName, r.get(0).dgamma(),
                                r.get(i).dgamma());
                        Tolerance.assertBitIdentical("batchNorm bwd dbeta" + shapeName, r.get(0).dbeta(),
                                r.get(i).dbeta());
                    }
                }
            }
        }

        @Test
        void badArguments() {
            try (Arena arena = Arena.ofConfined()) {
                Tensor x = Tensor.zeros(arena, 3, 4);
                Tensor dy = Tensor.zeros(arena, 3, 4);
                Tensor dx = Tensor.zeros(arena, 3, 4);
                Tensor c4 = Tensor.zeros(arena, 4);
                Tensor d4 = Tensor.zeros(arena, 4);
                Tensor c5 = Tensor.zeros(arena, 5);
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(null, x, c4, c4, null)), "batchNormBackward", "dy", "null");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(dy, null, c4, c4, null)), "x", "null");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(dy, x, null, c4, null)), "saveMean", "null");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(dy, x, c4, null, null)), "saveRstd", "null");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardEval(dy, x, null, c4, null, EPS)), "runningMean", "null");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(Tensor.zeros(arena, 4, 3), x, c4, c4, null)),
                        "dy", "[3, 4]", "[4, 3]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(Tensor.zeros(arena, 12), Tensor.zeros(arena, 12), c4, c4,
                                null)), "x", "2 dimensions", "float32[12]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(Tensor.zeros(arena, 4, 3), null, null, dy, x, c4, c4, null,
                                false)), "dx", "[3, 4]", "[4, 3]");
                String[] perChannel = {"dgamma", "dbeta", "saveMean", "saveRstd", "gamma"};
                for (int i = 0; i < perChannel.length; i++) {
                    Tensor[] a = {c4, d4, Tensor.zeros(arena, 4), Tensor.zeros(arena, 4), Tensor.zeros(arena, 4)};
                    a[i] = c5;
                    assertMessage(assertThrows(IllegalArgumentException.class,
                            () -> BatchNormOps.backwardTraining(dx, a[0], a[1], dy, x, a[2], a[3], a[4], false)),
                            perChannel[i], "[4]", "[5]", "float32[3, 4]");
                }
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardEval(dx, null, null, dy, x, c4, c5, null, EPS, false)),
                        "runningVar", "[4]", "[5]");
                for (float eps : new float[] {-1f, Float.NaN, Float.POSITIVE_INFINITY}) {
                    assertMessage(assertThrows(IllegalArgumentException.class,
                            () -> BatchNormOps.backwardEval(dy, x, c4, d4, null, eps)), "eps", Float.toString(eps));
                }
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(dx, c4, null, dy, x, c4, d4, null, false)),
                        "dgamma", "saveMean", "same tensor");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(dx, c4, c4, dy, x, d4, d4, null, false)),
                        "dgamma", "dbeta", "same tensor");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> BatchNormOps.backwardTraining(x, null, null, dy, x, c4, d4, null, false)),
                        "dx", "x", "same tensor");
                Tensor closed = Tensor.zeros(4);
                closed.close();
                assertMessage(assertThrows(IllegalStateException.class,
                        () -> BatchNormOps.backwardTraining(dx, closed, null, dy, x, c4, d4, null, false)),
                        "dgamma", "closed");
            }
        }

        /** The C entry points validate on their own, for callers other than the Java API. */
        @Test
        void nativeChecksReturnAStatus() {
            NativeLibrary.ensureLoaded();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment a = arena.allocate(ValueLayout.JAVA_FLOAT, 12);
                MemorySegment b = arena.allocate(ValueLayout.JAVA_FLOAT, 12);
                MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
                MemorySegment t = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
                MemorySegment none = MemorySegment.NULL;
                assertNative("nf_batchnorm_bwd_train_f32: accumulate must be 0 or 1, got 2",
                        nnfuse_h.nf_batchnorm_bwd_train_f32(none, none, none, a, b, s, t, none, 3, 4, 2));
                assertNative("nf_batchnorm_bwd_train_f32: save_rstd is NULL",
                        nnfuse_h.nf_batchnorm_bwd_train_f32(none, none, none, a, b, s, none, none, 3, 4, 0));
                assertNative("nf_batchnorm_bwd_train_f32: n must be >= 1, got 0",
                        nnfuse_h.nf_batchnorm_bwd_train_f32(none, none, none, a, b, s, t, none, 0, 4, 0));
                assertNative("nf_batchnorm_bwd_train_f32: dx overlaps x",
                        nnfuse_h.nf_batchnorm_bwd_train_f32(b, none, none, a, b, s, t, none, 3, 4, 0));
                assertNative("nf_batchnorm_bwd_train_f32: dgamma overlaps save_mean",
                        nnfuse_h.nf_batchnorm_bwd_train_f32(none, s, none, a, b, s, t, none, 3, 4, 0));
                assertNative("nf_batchnorm_bwd_eval_f32: eps must be finite and >= 0, got -1",
                        nnfuse_h.nf_batchnorm_bwd_eval_f32(none, none, none, a, b, s, t, none, 3, 4, -1f, 0));
                assertNative("nf_batchnorm_bwd_eval_f32: dbeta overlaps running_var",
                        nnfuse_h.nf_batchnorm_bwd_eval_f32(none, none, t, a, b, s, t, none, 3, 4, 0f, 0));
            }
        }

        /** {@code L = sum(dy * y)}, whose gradient with respect to y is dy. */
        private static double loss(float[] dy, BatchNormReference.Forward fwd) {
            return FiniteDifferences.dot(dy, fwd.y());
        }

        /** The training backward of the native forward on x with dy as given and no running statistics. */
        private static Grads backwardTrainingOf(float[] dy, float[] x, float[] gamma, int n, int c, float eps) {
            Outputs fwd = train(x, null, null, gamma, null, n, c, eps, DEFAULT_M);
            return backwardTraining(dy, x, fwd.mean(), fwd.rstd(), gamma, n, c, null, false);
        }

        private static void compareTraining(float[] dy, float[] x, float[] gamma, int n, int c) {
            Outputs fwd = train(x, null, null, gamma, null, n, c, EPS, DEFAULT_M);
            BatchNormReference.Backward ref = BatchNormReference.backwardTraining(dy, x,
                    TestData.widen(fwd.mean()), TestData.widen(fwd.rstd()), gamma, n, c);
            Grads out = backwardTraining(dy, x, fwd.mean(), fwd.rstd(), gamma, n, c, null, false);
            assertGradients("batchNorm bwd train", ref, out, n, c);
        }

        private static void compareEval(float[] dy, float[] x, float[] runningMean, float[] runningVar,
                float[] gamma, int n, int c) {
            BatchNormReference.Backward ref = BatchNormReference.backwardEval(dy, x, runningMean, runningVar, gamma,
                    n, c, EPS);
            Grads out = backwardEval(dy, x, runningMean, runningVar, gamma, n, c, null, false);
            assertGradients("batchNorm bwd eval", ref, out, n, c);
        }

        private static void assertGradients(String what, BatchNormReference.Backward ref, Grads out, int n, int c) {
            String shape = " [" + n + "x" + c + "]";
            GRAD.assertClose(what + " dx" + shape, ref.dx(), out.dx());
            GRAD.assertClose(what + " dgamma" + shape, ref.dgamma(), out.dgamma());
            GRAD.assertClose(what + " dbeta" + shape, ref.dbeta(), out.dbeta());
        }

        private static void assertNative(String message, int status) {
            assertEquals(nnfuse_h.NF_ERR_INVALID_ARGUMENT(), status);
            assertEquals(message, nnfuse_h.nf_last_error().getString(0));
        }
    }

    private record Grads(float[] dx, float[] dgamma, float[] dbeta) {}

    /**
     * One training backward with every output; {@code before} (null: zeros) is
     * the initial content of dgamma and dbeta, for accumulation.
     */
    private static Grads backwardTraining(float[] dy, float[] x, float[] mean, float[] rstd, float[] gamma, int n,
            int c, float[] before, boolean accumulate) {
        try (Tensor dyT = Tensor.of(dy, n, c);
                Tensor xt = Tensor.of(x, n, c);
                Tensor m = Tensor.of(mean, c);
                Tensor r = Tensor.of(rstd, c);
                Tensor g = perChannel(gamma, c);
                Tensor dx = Tensor.zeros(n, c);
                Tensor dgamma = Tensor.of(before == null ? new float[c] : before, c);
                Tensor dbeta = Tensor.of(before == null ? new float[c] : before, c)) {
            BatchNormOps.backwardTraining(dx, dgamma, dbeta, dyT, xt, m, r, g, accumulate);
            return new Grads(dx.toFloatArray(), dgamma.toFloatArray(), dbeta.toFloatArray());
        }
    }

    /** One eval backward with every output, as {@link #backwardTraining}. */
    private static Grads backwardEval(float[] dy, float[] x, float[] runningMean, float[] runningVar, float[] gamma,
            int n, int c, float[] before, boolean accumulate) {
        try (Tensor dyT = Tensor.of(dy, n, c);
                Tensor xt = Tensor.of(x, n, c);
                Tensor rm = Tensor.of(runningMean, c);
                Tensor rv = Tensor.of(runningVar, c);
                Tensor g = perChannel(gamma, c);
                Tensor dx = Tensor.zeros(n, c);
                Tensor dgamma = Tensor.of(before == null ? new float[c] : before, c);
                Tensor dbeta = Tensor.of(before == null ? new float[c] : before, c)) {
            BatchNormOps.backwardEval(dx, dgamma, dbeta, dyT, xt, rm, rv, g, BatchNormOps.DEFAULT_EPS, accumulate);
            return new Grads(dx.toFloatArray(), dgamma.toFloatArray(), dbeta.toFloatArray());
        }
    }

    /** a + b element-wise in float: PyTorch's accumulation of a fresh gradient b into a. */
    private static float[] plus(float[] a, float[] b) {
        float[] sum = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            sum[i] = a[i] + b[i];
        }
        return sum;
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
