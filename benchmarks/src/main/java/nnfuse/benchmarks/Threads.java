package nnfuse.benchmarks;

import nnfuse.Nnfuse;

/**
 * The thread count of a benchmark run: nnfuse's ({@code NNFUSE_NUM_THREADS}, default all processors), set
 * explicitly, and given to OpenBLAS too where it is the peer, so that both run on the same threads. Printed,
 * so that JMH's log says what was measured.
 */
final class Threads {
    private Threads() {}

    /** Sets nnfuse's thread count to its configured value and returns it. */
    static int forNnfuse() {
        int threads = Nnfuse.threads();
        Nnfuse.setThreads(threads);
        System.out.println("threads: nnfuse " + Nnfuse.threads());
        return threads;
    }

    /** As {@link #forNnfuse()}, and gives OpenBLAS the same count. */
    static int forNnfuseAndOpenBlas() {
        int threads = Nnfuse.threads();
        Nnfuse.setThreads(threads);
        OpenBlas.setThreads(threads);
        System.out.println("threads: nnfuse " + Nnfuse.threads() + ", OpenBLAS " + OpenBlas.threads()
                + " (kernel " + OpenBlas.coreName() + ")");
        return threads;
    }
}
