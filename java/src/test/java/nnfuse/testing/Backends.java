package nnfuse.testing;

import static org.junit.jupiter.api.Assumptions.assumeFalse;

import nnfuse.Nnfuse;

/**
 * Which backend the suite runs on ({@code -Dnnfuse.backend}, see {@link Nnfuse#backend()}): the same tests run
 * on the CPU backend and on the CUDA kernels, except those of features only one backend has.
 */
public final class Backends {
    private Backends() {}

    /** Whether the default device, where the tests' tensors live, is a CUDA device. */
    public static boolean onCuda() {
        return Nnfuse.backend().device().isCuda();
    }

    /** Skips the test on the CUDA backend; {@code why} names the CPU-only feature it tests. */
    public static void assumeCpu(String why) {
        assumeFalse(onCuda(), "CPU backend only: " + why);
    }
}
