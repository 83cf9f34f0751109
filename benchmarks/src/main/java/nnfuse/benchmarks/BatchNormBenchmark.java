package nnfuse.benchmarks;

import nnfuse.BatchNormOps;
import nnfuse.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * BatchNorm1d in training mode on {@code [4096, 1024]}: batch statistics, the saved mean and rstd, and the
 * running statistics updated as PyTorch updates them; against a copy of the same bytes in the same run.
 */
@State(Scope.Benchmark)
public class BatchNormBenchmark extends MemoryBoundBenchmark {
    /**
     * x read and y written; per channel: saved mean and rstd written, running mean and variance read and
     * written, gamma and beta read.
     */
    static final long BYTES = (2 * ROWS * COLS + 8 * COLS) * Float.BYTES;

    private Tensor gamma;
    private Tensor beta;
    private Tensor saveMean;
    private Tensor saveRstd;
    private Tensor runningMean;
    private Tensor runningVar;

    @Override
    protected void prepare() {
        gamma = Data.uniform(2, COLS);
        beta = Data.uniform(3, COLS);
        saveMean = Tensor.zeros(COLS);
        saveRstd = Tensor.zeros(COLS);
        runningMean = Tensor.zeros(COLS);
        runningVar = Tensor.zeros(COLS).fill(1f);
    }

    @Override
    protected void release() {
        gamma.close();
        beta.close();
        saveMean.close();
        saveRstd.close();
        runningMean.close();
        runningVar.close();
    }

    @Benchmark
    public void batchNormTraining() {
        BatchNormOps.forwardTraining(y, saveMean, saveRstd, runningMean, runningVar, x, gamma, beta,
                BatchNormOps.DEFAULT_EPS, BatchNormOps.DEFAULT_MOMENTUM);
    }
}
