package nnfuse.testing;

import java.util.function.Supplier;
import nnfuse.Nnfuse;

/** The determinism rule: an op gives bit-identical outputs whatever the library's thread count. */
public final class Determinism {
    /** One thread, an even split, and more threads than this machine may have cores. */
    private static final int[] THREAD_COUNTS = {1, 2, 4};

    private Determinism() {}

    /**
     * Runs {@code op} with 1, 2 and 4 threads and asserts that every output is bit-identical to the
     * one-thread run; the thread count in force before is restored.
     *
     * @param op computes the outputs afresh on each call, in a fixed order
     */
    public static void assertSameWithAnyThreads(String what, Supplier<float[][]> op) {
        int before = Nnfuse.threads();
        try {
            float[][] first = null;
            for (int threads : THREAD_COUNTS) {
                Nnfuse.setThreads(threads);
                float[][] outputs = op.get();
                if (first == null) {
                    first = outputs;
                    continue;
                }
                for (int i = 0; i < outputs.length; i++) {
                    Tolerance.assertBitIdentical(what + " output " + i + " with " + threads + " threads", first[i],
                            outputs[i]);
                }
            }
        } finally {
            Nnfuse.setThreads(before);
        }
    }
}
