package nnfuse.benchmarks;

import nnfuse.LayerNormOps;
import nnfuse.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * LayerNorm over the last dimension of {@code [4096, 1024]}, in its training form (keeping each row's mean
 * and rstd for the backward pass, as PyTorch's {@code native_layer_norm} does), against a copy of the same
 * bytes in the same run.
 */
@State(Scope.Benchmark)
public class LayerNormBenchmark extends MemoryBoundBenchmark {
    /** x read and y written, mean and rstd written ({@code [rows]} each), gamma and beta read. */
    static final long BYTES = (2 * ROWS * COLS + 2 * ROWS + 2 * COLS) * Float.BYTES;

    private Tensor gamma;
    private Tensor beta;
    private Tensor mean;
    private Tensor rstd;

    @Override
    protected void prepare() {
        gamma = Data.uniform(2, COLS);
        beta = Data.uniform(3, COLS);
        mean = Tensor.zeros(ROWS);
        rstd = Tensor.zeros(ROWS);
    }

    @Override
    protected void release() {
        gamma.close();
        beta.close();
        mean.close();
        rstd.close();
    }

    @Benchmark
    public void layerNorm() {
        LayerNormOps.forward(y, mean, rstd, x, gamma, beta, LayerNormOps.DEFAULT_EPS);
    }
}
