package nnfuse.benchmarks;

import java.util.concurrent.TimeUnit;
import nnfuse.Tensor;
import nnfuse.nn.Models;
import nnfuse.nn.Sequential;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The worksheet's whole MLP (Discussion 04: 52 -> 128 -> 256 -> 20 -> 1000, {@link Models#discussion04})
 * through the module layer, as a user calls it: natively with the fused blocks and with the unfused ones, and
 * in pure Java by the reference kernels ({@link ReferenceMlp}), all with the same parameters.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ModelBenchmark {
    private static final long SEED = 0;
    private static final int IN = 52;

    /** Rows of the input. */
    @Param({"4", "4096"})
    public int batch;

    private Sequential fused;
    private Sequential unfused;
    private ReferenceMlp reference;
    private Tensor x;
    private float[] xValues;

    @Setup(Level.Trial)
    public void setUp() {
        Threads.forNnfuse();
        fused = Models.discussion04(true, SEED);
        fused.eval();
        unfused = Models.discussion04(false, SEED);
        unfused.eval();
        reference = ReferenceMlp.of(fused.stateDict());
        x = Data.uniform(1, batch, IN);
        xValues = x.toFloatArray();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fused.close();
        unfused.close();
        x.close();
    }

    @Benchmark
    public void forwardFused() {
        fused.forward(x).close();
    }

    @Benchmark
    public void forwardUnfused() {
        unfused.forward(x).close();
    }

    @Benchmark
    public float[] forwardReference() {
        return reference.forward(xValues, batch);
    }
}
