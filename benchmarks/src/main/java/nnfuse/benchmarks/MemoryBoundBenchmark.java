package nnfuse.benchmarks;

import java.util.concurrent.TimeUnit;
import nnfuse.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A memory-bound op on a {@code [4096, 1024]} float32 input, and its ceiling measured in the same run and
 * fork: {@link #copy()}, a plain copy of the input's bytes into the output on as many threads as the op (see
 * {@link ParallelCopy}). Each subclass measures one op family and states the bytes it must move at the least
 * (each input read once, each output written once); {@link ResultsTable} divides them by the times to compare
 * achieved bytes per second with the copy's.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public abstract class MemoryBoundBenchmark {
    static final long ROWS = 4096;
    static final long COLS = 1024;
    /** Bytes the copy moves: the input read once and the output written once. */
    static final long COPY_BYTES = 2 * ROWS * COLS * Float.BYTES;

    /** The input, uniform in [-1, 1). */
    protected Tensor x;
    /** The output, also the copy's destination. */
    protected Tensor y;
    private ParallelCopy copier;

    @Setup(Level.Trial)
    public void setUp() {
        int threads = Threads.forNnfuse();
        x = Data.uniform(1, ROWS, COLS);
        y = Tensor.zeros(ROWS, COLS);
        copier = new ParallelCopy(threads);
        prepare();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        release();
        copier.close();
        x.close();
        y.close();
    }

    /** The ceiling: a plain native copy of x's bytes into y. */
    @Benchmark
    public void copy() {
        copier.copy(x.segment(), y.segment());
    }

    /** Allocates what the op needs besides x and y; nothing by default. */
    protected void prepare() {}

    /** Frees what {@link #prepare()} allocated. */
    protected void release() {}
}
