package nnfuse.benchmarks;

import java.util.concurrent.TimeUnit;
import nnfuse.LayerNormOps;
import nnfuse.LinearLnReluOps;
import nnfuse.LinearOps;
import nnfuse.ReluOps;
import nnfuse.Tensor;
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
 * The fused Linear + LayerNorm + ReLU ({@link LinearLnReluOps}, inference form) against two baselines at the
 * same shape and thread count: the matrix product alone by OpenBLAS ({@code cblas_sgemm}, the ceiling of the
 * product the fused op contains) and nnfuse's own unfused chain (Linear, then LayerNorm, then ReLU, each into
 * its own output as {@code nn.Sequential} would). Shapes: the large layer and the worksheet model's
 * three hidden blocks at batch 4.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class LinearLnReluBenchmark {
    /** {@code rows x in x out}: x is {@code [rows, in]}, the weight {@code [out, in]}. */
    @Param({"4096x1024x1024", "4x52x128", "4x128x256", "4x256x20"})
    public String shape;

    private Tensor x;
    private Tensor weight;
    private Tensor bias;
    private Tensor gamma;
    private Tensor beta;
    private Tensor linearOut;
    private Tensor normOut;
    private Tensor y;
    private int rows;
    private int in;
    private int out;

    @Setup(Level.Trial)
    public void setUp() {
        Threads.forNnfuseAndOpenBlas();
        int[] dims = dims(shape);
        rows = dims[0];
        in = dims[1];
        out = dims[2];
        x = Data.uniform(1, rows, in);
        weight = Data.uniform(2, out, in);
        bias = Data.uniform(3, out);
        gamma = Data.uniform(4, out);
        beta = Data.uniform(5, out);
        linearOut = Tensor.zeros(rows, out);
        normOut = Tensor.zeros(rows, out);
        y = Tensor.zeros(rows, out);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, weight, bias, gamma, beta, linearOut, normOut, y}) {
            t.close();
        }
    }

    /** {@code relu(layerNorm(x W^T + b))} in one call. */
    @Benchmark
    public void fused() {
        LinearLnReluOps.forward(y, null, null, null, x, weight, bias, gamma, beta, LayerNormOps.DEFAULT_EPS, true);
    }

    /** The same result by three calls, each writing its own output. */
    @Benchmark
    public void unfused() {
        LinearOps.forward(linearOut, x, weight, bias);
        LayerNormOps.forward(normOut, null, null, linearOut, gamma, beta, LayerNormOps.DEFAULT_EPS);
        ReluOps.forward(y, normOut);
    }

    /** The product {@code x W^T} alone, by OpenBLAS. */
    @Benchmark
    public void openblasSgemm() {
        OpenBlas.sgemmNT(y.segment(), x.segment(), weight.segment(), rows, out, in);
    }

    /** {@code rows, in, out} of a {@link #shape} parameter. */
    static int[] dims(String shape) {
        String[] parts = shape.split("x");
        if (parts.length != 3) {
            throw new IllegalArgumentException("shape must be rows x in x out, e.g. 4x52x128, got " + shape);
        }
        return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), Integer.parseInt(parts[2])};
    }
}
