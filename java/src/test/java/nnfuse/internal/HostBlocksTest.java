package nnfuse.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import nnfuse.Tensor;
import org.junit.jupiter.api.Test;

/** The caching allocator of small host tensors: size classes, alignment, zeroing of reused blocks, the cap. */
class HostBlocksTest {
    @Test
    void blocksArePowerOfTwoClassesAlignedAndZeroed() {
        long[][] cases = {{1, 64}, {64, 64}, {65, 128}, {4097, 8192}, {HostBlocks.MAX_BLOCK, HostBlocks.MAX_BLOCK}};
        for (long[] c : cases) {
            MemorySegment block = HostBlocks.take(c[0]);
            assertEquals(c[1], block.byteSize(), "block for " + c[0] + " bytes");
            assertEquals(0, block.address() % 64, "alignment");
            block.fill((byte) 7);
            HostBlocks.give(block);
            MemorySegment again = HostBlocks.take(c[0]);
            for (long i = 0; i < c[0]; i++) {
                assertEquals(0, again.get(ValueLayout.JAVA_BYTE, i), "byte " + i + " of a reused block");
            }
            HostBlocks.give(again);
        }
        assertThrows(IllegalArgumentException.class, () -> HostBlocks.take(0));
        assertThrows(IllegalArgumentException.class, () -> HostBlocks.take(HostBlocks.MAX_BLOCK + 1));
    }

    @Test
    void aClosedTensorsBlockServesTheNextTensorZeroed() {
        Tensor a = Tensor.of(nnfuse.Device.CPU, new float[] {1, 2, 3}, 3);
        long address = a.segment().address();
        a.close();
        a.close();
        try (Tensor b = Tensor.zeros(nnfuse.Device.CPU, 3)) {
            assertEquals(address, b.segment().address(), "the most recently freed block of the class comes first");
            assertEquals(0f, b.get(0));
            assertEquals(0f, b.get(2));
        }
    }

    @Test
    void theCacheKeepsABoundedNumberOfFreeBytesPerClass() {
        int blocks = (int) (HostBlocks.CACHED_BYTES_PER_CLASS / HostBlocks.MAX_BLOCK) + 3;
        MemorySegment[] taken = new MemorySegment[blocks];
        for (int i = 0; i < blocks; i++) {
            taken[i] = HostBlocks.take(HostBlocks.MAX_BLOCK);
        }
        for (MemorySegment block : taken) {
            HostBlocks.give(block);
        }
        int reused = 0;
        MemorySegment[] again = new MemorySegment[blocks];
        for (int i = 0; i < blocks; i++) {
            again[i] = HostBlocks.take(HostBlocks.MAX_BLOCK);
            for (MemorySegment old : taken) {
                reused += old.address() == again[i].address() ? 1 : 0;
            }
        }
        assertTrue(reused <= HostBlocks.CACHED_BYTES_PER_CLASS / HostBlocks.MAX_BLOCK, "reused " + reused);
        for (MemorySegment block : again) {
            HostBlocks.give(block);
        }
    }
}
