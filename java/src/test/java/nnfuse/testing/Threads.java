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
}
