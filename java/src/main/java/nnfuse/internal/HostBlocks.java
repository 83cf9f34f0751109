package nnfuse.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A caching allocator for the host memory of small owning tensors, in the manner of PyTorch's CUDA caching
 * allocator: blocks come in power-of-two size classes, and a freed block goes back to its class for the next
 * tensor instead of back to the system.
 *
 * <p>Why: an owning tensor could have its own shared arena, but closing a shared arena performs a handshake
 * with every Java thread (tens of microseconds), which would dominate an op on the worksheet's batch of 4.
 * Blocks are allocated from automatic arenas, so memory is returned to the system only by the garbage
 * collector once nothing refers to a block; a block is therefore never freed while any segment still points
 * into it, and a use after close through a stale segment reads reused memory rather than freed memory.
 * Each class keeps at most {@link #CACHED_BYTES_PER_CLASS} bytes of free blocks; beyond that, freed blocks
 * are dropped for the collector.
 *
 * <p>Thread-safe.
 */
public final class HostBlocks {
    /** The largest block: bigger tensors get an arena of their own, whose close cost is small beside them. */
    public static final long MAX_BLOCK = 1L << 20;
    /** The smallest block: one cache line, the alignment of every tensor. */
    private static final int MIN_SHIFT = 6;
    private static final int MAX_SHIFT = 20;
    static final long CACHED_BYTES_PER_CLASS = 8L << 20;

    private static final SizeClass[] CLASSES = new SizeClass[MAX_SHIFT - MIN_SHIFT + 1];

    static {
        for (int i = 0; i < CLASSES.length; i++) {
            CLASSES[i] = new SizeClass(1L << (MIN_SHIFT + i));
        }
    }

    private HostBlocks() {}

    /**
     * A block of at least {@code bytes} (1 to {@link #MAX_BLOCK}), 64-byte aligned, zeroed over its first
     * {@code bytes}.
     */
    public static MemorySegment take(long bytes) {
        SizeClass c = classOf(bytes);
        MemorySegment block = c.free.pollFirst();
        if (block == null) {
            return Arena.ofAuto().allocate(c.size, 64);
        }
        c.cachedBytes.addAndGet(-c.size);
        return block.fill((byte) 0);
    }

    /** Returns a block from {@link #take} once nothing uses it any more. */
    public static void give(MemorySegment block) {
        SizeClass c = classOf(block.byteSize());
        if (c.cachedBytes.addAndGet(c.size) <= CACHED_BYTES_PER_CLASS) {
            c.free.addFirst(block);
        } else {
            c.cachedBytes.addAndGet(-c.size);
        }
    }

    private static SizeClass classOf(long bytes) {
        if (bytes < 1 || bytes > MAX_BLOCK) {
            throw new IllegalArgumentException("block size must be in [1, " + MAX_BLOCK + "], got " + bytes);
        }
        int shift = Math.max(MIN_SHIFT, 64 - Long.numberOfLeadingZeros(bytes - 1));
        return CLASSES[shift - MIN_SHIFT];
    }

    private static final class SizeClass {
        final long size;
        final ConcurrentLinkedDeque<MemorySegment> free = new ConcurrentLinkedDeque<>();
        final AtomicLong cachedBytes = new AtomicLong();

        SizeClass(long size) {
            this.size = size;
        }
    }
}
