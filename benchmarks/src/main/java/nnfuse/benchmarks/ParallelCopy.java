package nnfuse.benchmarks;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The ceiling the memory-bound ops are measured against: a plain copy of the same bytes, as
 * {@link MemorySegment#copy(MemorySegment, long, MemorySegment, long, long)} between off-heap segments (which
 * HotSpot runs as its vectorized arraycopy stub, a native memcpy), split into one contiguous chunk per thread
 * so that the copy runs on as many threads as the op. A single-threaded copy would understate what the memory
 * system can do wherever one core cannot saturate it.
 *
 * <p>Not thread-safe: one caller at a time.
 */
final class ParallelCopy implements AutoCloseable {
    /** Chunks start on cache lines. */
    private static final long LINE = 64;

    private final int threads;
    private final ExecutorService helpers;

    ParallelCopy(int threads) {
        this.threads = threads;
        this.helpers = Executors.newFixedThreadPool(Math.max(1, threads - 1), r -> {
            Thread t = new Thread(r, "copy-helper");
            t.setDaemon(true);
            return t;
        });
    }

    /** Copies all of {@code src} to the start of {@code dst}, which must be at least as large. */
    void copy(MemorySegment src, MemorySegment dst) {
        long bytes = src.byteSize();
        long chunk = Math.max(LINE, (bytes / threads + LINE - 1) / LINE * LINE);
        List<Future<?>> pending = new ArrayList<>(threads - 1);
        for (long start = chunk; start < bytes; start += chunk) {
            long from = start;
            long length = Math.min(chunk, bytes - from);
            pending.add(helpers.submit(() -> MemorySegment.copy(src, from, dst, from, length)));
        }
        MemorySegment.copy(src, 0, dst, 0, Math.min(chunk, bytes));
        try {
            for (Future<?> f : pending) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("copy interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("copy failed", e.getCause());
        }
    }

    @Override
    public void close() {
        helpers.shutdownNow();
    }
}
