package nnfuse.benchmarks;

import java.util.SplittableRandom;
import nnfuse.Tensor;

/** Inputs for the benchmarks: reproducible, and values the kernels meet in practice (no denormals, no NaN). */
final class Data {
    private Data() {}

    /** A new owning tensor of {@code shape} with values uniform in [-1, 1), from {@code seed}. */
    static Tensor uniform(long seed, long... shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[Math.toIntExact(n)];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextDouble(-1, 1);
        }
        return Tensor.of(values, shape);
    }
}
