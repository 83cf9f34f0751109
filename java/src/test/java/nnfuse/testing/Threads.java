package nnfuse.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import nnfuse.Nnfuse;

/** Runs a computation under several library thread counts, for determinism tests. */
public final class Threads {
    /** The counts every determinism test uses: serial, and two splits that differ from each other. */
    public static final int[] COUNTS = {1, 2, 4};

    private Threads() {}

    /** The results of {@code run} at each thread count of {@link #COUNTS}; restores the previous count after. */
    public static <T> List<T> atEachCount(Supplier<T> run) {
        int previous = Nnfuse.threads();
        List<T> results = new ArrayList<>();
        try {
            for (int n : COUNTS) {
                Nnfuse.setThreads(n);
                results.add(run.get());
            }
        } finally {
            Nnfuse.setThreads(previous);
        }
        return results;
    }

    /** Asserts that {@code run} gives bit-identical output at every thread count of {@link #COUNTS}. */
    public static void assertSameAtEachCount(String what, Supplier<float[]> run) {
        List<float[]> runs = atEachCount(run);
        for (int i = 1; i < runs.size(); i++) {
            Tolerance.assertBitIdentical(what + " threads " + COUNTS[i], runs.get(0), runs.get(i));
        }
    }

    /**
     * Asserts that every output of {@code run} (named by {@code names}, in the
     * same order) is bit-identical at every thread count of {@link #COUNTS}.
     */
    public static void assertSameAtEachCount(String what, String[] names, Supplier<float[][]> run) {
        List<float[][]> runs = atEachCount(run);
        for (int i = 1; i < runs.size(); i++) {
            for (int k = 0; k < names.length; k++) {
                Tolerance.assertBitIdentical(what + " " + names[k] + " threads " + COUNTS[i], runs.get(0)[k],
                        runs.get(i)[k]);
            }
        }
    }
}
