package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import nnfuse.DType;
import nnfuse.Tensor;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;

/**
 * The BatchNorm1d module: PyTorch's buffers and names, running statistics
 * after several training batches against their closed form (exponential with
 * a momentum, cumulative average without), num_batches_tracked, and the
 * train/eval switch.
 *
 * <p>Tolerances: running statistics are float32 blends of float32 batch
 * statistics over a handful of updates, each a reduction over the batch:
 * 1e-6 widened for a reduction over the batch rows, times the number of
 * updates (5). Outputs follow the LayerNorm module's reasoning, atol 1e-5 +
 * rtol 1e-5 on O(1) values. num_batches_tracked is an integer: exact.
 */
class BatchNorm1dTest {
    private static final int ROWS = 33;
    private static final int CHANNELS = 7;
    private static final int BATCHES = 5;
    private static final Tolerance STATS = Tolerance.of(1e-6 * BATCHES, 1e-6 * BATCHES).forReduction(ROWS);
    private static final Tolerance Y = Tolerance.of(1e-5, 1e-5);

    @Test
    void buffersAndNamesAreTorchs() {
        try (BatchNorm1d bn = new BatchNorm1d(CHANNELS)) {
            assertEquals(List.of("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
                    List.copyOf(bn.stateDict().keySet()));
            assertEquals(List.of("weight", "bias"), List.copyOf(bn.namedParameters().keySet()));
            assertArrayEquals(new float[CHANNELS], bn.runningMean().toFloatArray());
            assertArrayEquals(filled(CHANNELS, 1f), bn.runningVar().toFloatArray());
            assertEquals(DType.INT64, bn.stateDict().get("num_batches_tracked").dtype());
            assertEquals(0, bn.numBatchesTracked());
            assertEquals("BatchNorm1d(7, eps=1.0E-5, momentum=0.1, affine=True, track_running_stats=True)",
                    bn.toString());
        }
        try (BatchNorm1d bare = new BatchNorm1d(CHANNELS, 1e-5f, 0.1f, false, false)) {
            assertEquals(List.of(), List.copyOf(bare.stateDict().keySet()));
            assertNull(bare.runningMean());
            assertNull(bare.weight());
        }
    }

    /** running = (1 - m) running + m stat with the unbiased batch variance, m = 0.1; PyTorch's update. */
    @Test
    void runningStatisticsWithMomentum() {
        runningStatistics(0.1f);
    }

    /** momentum null: m = 1 / num_batches_tracked, so the running values are plain averages of the batch ones. */
    @Test
    void runningStatisticsAsCumulativeAverage() {
        runningStatistics(null);
    }

    private static void runningStatistics(Float momentum) {
        double[] mean = new double[CHANNELS];
        double[] var = filledDouble(CHANNELS, 1);
        try (BatchNorm1d bn = new BatchNorm1d(CHANNELS, 1e-5f, momentum, true, true)) {
            for (int k = 1; k <= BATCHES; k++) {
                float[] x = TestData.normal(k, ROWS * CHANNELS, k, 1 + k);
                double m = momentum == null ? 1.0 / k : momentum;
                for (int c = 0; c < CHANNELS; c++) {
                    double[] column = column(x, c);
                    double mu = Arrays.stream(column).average().orElseThrow();
                    double unbiased = Arrays.stream(column).map(v -> (v - mu) * (v - mu)).sum() / (ROWS - 1);
                    mean[c] = (1 - m) * mean[c] + m * mu;
                    var[c] = (1 - m) * var[c] + m * unbiased;
                }
                try (Tensor xt = Tensor.of(x, ROWS, CHANNELS); Tensor y = bn.forward(xt)) {
                    assertEquals(k, bn.numBatchesTracked());
                }
            }
            String how = momentum == null ? "cumulative" : "momentum";
            STATS.assertClose("batchNorm1d running_mean " + how, mean, bn.runningMean().toFloatArray());
            STATS.assertClose("batchNorm1d running_var " + how, var, bn.runningVar().toFloatArray());
            Tolerance.assertExact("batchNorm1d num_batches_tracked", new long[] {BATCHES},
                    bn.stateDict().get("num_batches_tracked").toLongArray());
        }
    }

    /** Eval normalizes with the running statistics and counts no batch; training uses the batch's own. */
    @Test
    void evalUsesRunningStatistics() {
        float[] x = TestData.normal(3, ROWS * CHANNELS, 2, 3);
        try (BatchNorm1d bn = new BatchNorm1d(CHANNELS); Tensor xt = Tensor.of(x, ROWS, CHANNELS)) {
            bn.weight().data().copyFrom(TestData.normal(4, CHANNELS, 1, 0.5));
            bn.bias().data().copyFrom(TestData.normal(5, CHANNELS, 0, 0.5));
            float[] gamma = bn.weight().data().toFloatArray();
            float[] beta = bn.bias().data().toFloatArray();
            try (Tensor train = bn.forward(xt)) {
                float[] rm = bn.runningMean().toFloatArray();
                float[] rv = bn.runningVar().toFloatArray();
                try (Tensor eval = bn.eval().forward(xt)) {
                    assertEquals(1, bn.numBatchesTracked(), "eval counts no batch");
                    assertArrayEquals(rm, bn.runningMean().toFloatArray(), "eval leaves running_mean");
                    double[] expected = new double[x.length];
                    for (int i = 0; i < x.length; i++) {
                        int c = i % CHANNELS;
                        expected[i] = (x[i] - rm[c]) / Math.sqrt(rv[c] + 1e-5) * gamma[c] + beta[c];
                    }
                    Y.assertClose("batchNorm1d eval y", expected, eval.toFloatArray());
                    assertFalse(Arrays.equals(train.toFloatArray(), eval.toFloatArray()), "train and eval differ");
                }
            }
        }
    }

    /** Without running statistics, eval normalizes with the batch's statistics, as in training (PyTorch). */
    @Test
    void evalWithoutTrackingUsesBatchStatistics() {
        try (BatchNorm1d bn = new BatchNorm1d(CHANNELS, 1e-5f, 0.1f, true, false);
                Tensor xt = Tensor.of(TestData.normal(6, ROWS * CHANNELS, 2, 3), ROWS, CHANNELS);
                Tensor train = bn.forward(xt); Tensor eval = bn.eval().forward(xt)) {
            Tolerance.assertBitIdentical("batchNorm1d untracked eval", train.toFloatArray(), eval.toFloatArray());
            assertEquals(0, bn.numBatchesTracked());
        }
    }

    @Test
    void badArguments() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> new BatchNorm1d(0)), "features", "0");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> new BatchNorm1d(3, -1e-5f, 0.1f, true, true)), "eps", "-1.0E-5");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> new BatchNorm1d(3, 1e-5f, 1.5f, true, true)), "momentum", "1.5");
        try (BatchNorm1d bn = new BatchNorm1d(3); Tensor x = Tensor.zeros(4, 5)) {
            assertThrows(IllegalArgumentException.class, () -> bn.forward(x));
            assertEquals(0, bn.numBatchesTracked(), "a failed call counts no batch");
        }
    }

    private static double[] column(float[] x, int c) {
        double[] v = new double[ROWS];
        for (int r = 0; r < ROWS; r++) {
            v[r] = x[r * CHANNELS + c];
        }
        return v;
    }

    private static float[] filled(int n, float value) {
        float[] v = new float[n];
        Arrays.fill(v, value);
        return v;
    }

    private static double[] filledDouble(int n, double value) {
        double[] v = new double[n];
        Arrays.fill(v, value);
        return v;
    }
}
