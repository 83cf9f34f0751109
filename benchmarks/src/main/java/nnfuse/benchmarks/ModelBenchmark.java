package nnfuse.benchmarks;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import nnfuse.Tensor;
import nnfuse.nn.CrossEntropyLoss;
import nnfuse.nn.Models;
import nnfuse.nn.SGD;
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
 * in pure Java by the reference kernels ({@link ReferenceMlp}), all from the same initial parameters. The
 * forward runs in evaluation mode; a training step is PyTorch's loop body ({@code zero_grad}, forward,
 * cross-entropy, backward, {@code step}) with plain SGD, on random labels.
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
    private static final int CLASSES = 1000;
    /** Small enough that thousands of steps on the same batch stay finite. */
    private static final float LR = 0.01f;

    /** Rows of the input. */
    @Param({"4", "4096"})
    public int batch;

    private Sequential fused;
    private Sequential unfused;
    private ReferenceMlp reference;
    private SGD fusedOptimizer;
    private SGD unfusedOptimizer;
    private CrossEntropyLoss loss;
    private Tensor x;
    private Tensor labels;
    private float[] xValues;
    private long[] labelValues;

    @Setup(Level.Trial)
    public void setUp() {
        Threads.forNnfuse();
        fused = Models.discussion04(true, SEED);
        unfused = Models.discussion04(false, SEED);
        reference = ReferenceMlp.of(fused.stateDict());
        fusedOptimizer = new SGD(fused, LR);
        unfusedOptimizer = new SGD(unfused, LR);
        loss = new CrossEntropyLoss();
        x = Data.uniform(1, batch, IN);
        xValues = x.toFloatArray();
        labelValues = new SplittableRandom(2).longs(batch, 0, CLASSES).toArray();
        labels = Tensor.ofLongs(labelValues, batch);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loss.close();
        fusedOptimizer.close();
        unfusedOptimizer.close();
        fused.close();
        unfused.close();
        x.close();
        labels.close();
    }

    @Benchmark
    public void forwardFused() {
        forward(fused);
    }

    @Benchmark
    public void forwardUnfused() {
        forward(unfused);
    }

    @Benchmark
    public float[] forwardReference() {
        return reference.forward(xValues, batch);
    }

    @Benchmark
    public float trainStepFused() {
        return trainStep(fused, fusedOptimizer);
    }

    @Benchmark
    public float trainStepUnfused() {
        return trainStep(unfused, unfusedOptimizer);
    }

    @Benchmark
    public double trainStepReference() {
        return reference.trainStep(xValues, labelValues, batch, LR);
    }

    private void forward(Sequential model) {
        model.eval();
        model.forward(x).close();
    }

    private float trainStep(Sequential model, SGD optimizer) {
        model.train();
        optimizer.zeroGrad();
        float value;
        try (Tensor logits = model.forward(x)) {
            value = loss.forward(logits, labels);
        }
        try (Tensor dlogits = loss.backward()) {
            model.backward(dlogits).close();
        }
        optimizer.step();
        return value;
    }
}
