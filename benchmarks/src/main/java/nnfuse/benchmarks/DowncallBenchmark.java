package nnfuse.benchmarks;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;
import nnfuse.LayerNormOps;
import nnfuse.LinearLnReluOps;
import nnfuse.PackedWeight;
import nnfuse.Tensor;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.bindings.nnfuse_h;
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
 * The cost of one downcall that does nothing: through the generated binding
 * (the path every op takes), and through a handle made with
 * {@link Linker.Option#critical(boolean)}, which skips the thread-state
 * transition. Decides whether critical handles are worth using for short calls:
 * they are not (benchmarks/RESULTS.md), so the bindings keep plain handles.
 *
 * <p>Beside them, the smallest call that does work: the worksheet model's first layer at batch 4
 * ({@code [4, 52] -> [4, 128]}, fused Linear + LayerNorm + ReLU into preallocated outputs), which costs the
 * Java-side checks, the downcall and the kernel: with the weight as stored (packed by the kernel on each call)
 * and with it packed once ({@link PackedWeight}, as {@code nnfuse.nn}'s modules hold it).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class DowncallBenchmark {
    private static final MethodHandle CRITICAL_NOOP = Linker.nativeLinker().downcallHandle(
            NativeLibrary.lookup().findOrThrow("nf_noop"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT),
            Linker.Option.critical(false));

    private static final long BATCH = 4;
    private static final long IN = 52;
    private static final long OUT = 128;

    private Tensor x;
    private Tensor weight;
    private Tensor bias;
    private Tensor gamma;
    private Tensor beta;
    private Tensor y;
    private PackedWeight packed;

    @Setup(Level.Trial)
    public void setUp() {
        Threads.forNnfuse();
        x = Data.uniform(1, BATCH, IN);
        weight = Data.uniform(2, OUT, IN);
        bias = Data.uniform(3, OUT);
        gamma = Data.uniform(4, OUT);
        beta = Data.uniform(5, OUT);
        y = Tensor.zeros(BATCH, OUT);
        packed = PackedWeight.of(weight);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        packed.close();
        for (Tensor t : new Tensor[] {x, weight, bias, gamma, beta, y}) {
            t.close();
        }
    }

    @Benchmark
    public int generatedBinding() {
        return nnfuse_h.nf_noop();
    }

    @Benchmark
    public int criticalHandle() throws Throwable {
        return (int) CRITICAL_NOOP.invokeExact();
    }

    @Benchmark
    public void seedFirstLayer() {
        LinearLnReluOps.forward(y, null, null, null, x, weight, bias, gamma, beta, LayerNormOps.DEFAULT_EPS, true);
    }

    @Benchmark
    public void seedFirstLayerPacked() {
        LinearLnReluOps.forward(y, null, null, null, x, packed, bias, gamma, beta, LayerNormOps.DEFAULT_EPS, true);
    }
}
