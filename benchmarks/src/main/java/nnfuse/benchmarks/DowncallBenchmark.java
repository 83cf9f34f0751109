package nnfuse.benchmarks;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.bindings.nnfuse_h;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one downcall that does nothing: through the generated binding
 * (the path every op takes), and through a handle made with
 * {@link Linker.Option#critical(boolean)}, which skips the thread-state
 * transition. Decides whether critical handles are worth using for short calls:
 * they are not (benchmarks/RESULTS.md), so the bindings keep plain handles.
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

    @Benchmark
    public int generatedBinding() {
        return nnfuse_h.nf_noop();
    }

    @Benchmark
    public int criticalHandle() throws Throwable {
        return (int) CRITICAL_NOOP.invokeExact();
    }
}
