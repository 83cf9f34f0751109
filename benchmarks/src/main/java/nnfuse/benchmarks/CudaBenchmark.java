package nnfuse.benchmarks;

import java.util.concurrent.TimeUnit;
import nnfuse.BatchNormOps;
import nnfuse.Device;
import nnfuse.DropoutOps;
import nnfuse.LayerNormOps;
import nnfuse.LinearLnReluOps;
import nnfuse.LinearOps;
import nnfuse.Nnfuse;
import nnfuse.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The CUDA backend on a GPU, each op beside its ceiling in the same run: LayerNorm, BatchNorm (training, with
 * running statistics) and Dropout on {@code [16384, 1024]} (16M elements) against a device-to-device copy of
 * the same bytes, and the fused Linear + LayerNorm + ReLU at 4096 x 1024 -> 1024 against the plain product
 * (nnfuse's Linear) and the unfused chain. An invocation enqueues {@link #REPS} ops and then waits for them,
 * so the time per op is the GPU's, not the launch's or the wait's.
 *
 * <p>Needs a CUDA device ({@code ./nnfuse bench-cuda}); {@code ./nnfuse bench} leaves it out.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CudaBenchmark {
    static final int REPS = 20;
    static final long ROWS = 16384;
    static final long COLS = 1024;
    /** Bytes the copy moves, and the least LayerNorm, BatchNorm and Dropout can: x read once, y written once. */
    static final long BYTES = 2 * ROWS * COLS * Float.BYTES;
    static final long BATCH = 4096;
    static final long IN = 1024;
    static final long OUT = 1024;

    private final Device device = Device.cuda(0);
    private Tensor x;
    private Tensor y;
    private Tensor gamma;
    private Tensor beta;
    private Tensor colStat;
    private Tensor runningMean;
    private Tensor runningVar;
    private Tensor input;
    private Tensor weight;
    private Tensor bias;
    private Tensor product;
    private Tensor normed;

    @Setup(Level.Trial)
    public void setUp() {
        if (Nnfuse.cudaDeviceCount() == 0) {
            throw new IllegalStateException("no CUDA device: " + Nnfuse.cudaUnavailableReason());
        }
        x = onDevice(Data.uniform(1, ROWS, COLS));
        y = Tensor.zeros(device, ROWS, COLS);
        gamma = onDevice(Data.uniform(2, COLS));
        beta = onDevice(Data.uniform(3, COLS));
        colStat = Tensor.zeros(device, COLS);
        runningMean = Tensor.zeros(device, COLS);
        runningVar = Tensor.zeros(device, COLS).fill(1);
        input = onDevice(Data.uniform(4, BATCH, IN));
        weight = onDevice(Data.uniform(5, OUT, IN));
        bias = onDevice(Data.uniform(6, OUT));
        product = Tensor.zeros(device, BATCH, OUT);
        normed = Tensor.zeros(device, BATCH, OUT);
    }

    private Tensor onDevice(Tensor host) {
        try (host) {
            return host.to(device);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, y, gamma, beta, colStat, runningMean, runningVar, input, weight,
            bias, product, normed}) {
            if (t != null) {
                t.close();
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void copy() {
        for (int i = 0; i < REPS; i++) {
            y.copyFrom(x);
        }
        Nnfuse.synchronize(device);
    }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void layerNorm() {
        for (int i = 0; i < REPS; i++) {
            LayerNormOps.forward(y, null, null, x, gamma, beta, LayerNormOps.DEFAULT_EPS);
        }
        Nnfuse.synchronize(device);
    }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void batchNormTraining() {
        for (int i = 0; i < REPS; i++) {
            BatchNormOps.forwardTraining(y, colStat, null, runningMean, runningVar, x, gamma, beta, 1e-5f, 0.1f);
        }
        Nnfuse.synchronize(device);
    }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void dropout() {
        for (int i = 0; i < REPS; i++) {
            DropoutOps.forward(y, x, 0.5f, true, 42, (long) i * ROWS * COLS);
        }
        Nnfuse.synchronize(device);
    }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void linear() {
        for (int i = 0; i < REPS; i++) {
            LinearOps.forward(product, input, weight, bias);
        }
        Nnfuse.synchronize(device);
    }

    @Benchmark
    @OperationsPerInvocation(REPS)
    public void linearLnReluFused() {
        for (int i = 0; i < REPS; i++) {
            LinearLnReluOps.forward(normed, null, null, null, input, weight, bias, gamma, beta,
                    LayerNormOps.DEFAULT_EPS, true);
        }
        Nnfuse.synchronize(device);
    }
}
