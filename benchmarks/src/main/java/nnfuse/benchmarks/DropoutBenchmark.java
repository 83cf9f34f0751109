package nnfuse.benchmarks;

import nnfuse.DropoutOps;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * Inverted dropout with PyTorch's default {@code p = 0.5} on {@code [4096, 1024]}, the mask drawn from the
 * Philox stream inside the kernel; against a copy of the same bytes in the same run.
 */
@State(Scope.Benchmark)
public class DropoutBenchmark extends MemoryBoundBenchmark {
    /** x read and y written; the mask is computed, not stored. */
    static final long BYTES = 2 * ROWS * COLS * Float.BYTES;

    private static final long SEED = 42;

    @Benchmark
    public void dropout() {
        DropoutOps.forward(y, x, DropoutOps.DEFAULT_P, true, SEED, 0);
    }
}
