package nnfuse.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.bindings.nnfuse_h;
import org.junit.jupiter.api.Test;

/** The C side of the generator, {@code nf_philox4x32_10}: Random123's known answers, and agreement with the Java side. */
class NativePhiloxTest {
    @Test
    void nativeBlockMatchesKnownAnswers() {
        for (int[] v : Philox4x32Test.KAT) {
            assertArrayEquals(new int[] {v[6], v[7], v[8], v[9]}, nativeBlock(v[0], v[1], v[2], v[3], v[4], v[5]));
        }
    }

    @Test
    void nativeBlockMatchesJavaOnRandomInputs() {
        SplittableRandom random = new SplittableRandom(2011);
        for (int i = 0; i < 1000; i++) {
            int[] in = random.ints(6).toArray();
            assertArrayEquals(Philox4x32.block(in[0], in[1], in[2], in[3], in[4], in[5]),
                    nativeBlock(in[0], in[1], in[2], in[3], in[4], in[5]));
        }
    }

    @Test
    void nullPointerIsAStatusNotACrash() {
        NativeLibrary.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            int status = nnfuse_h.nf_philox4x32_10(MemorySegment.NULL, arena.allocate(8), arena.allocate(16));
            assertEquals(nnfuse_h.NF_ERR_INVALID_ARGUMENT(), status);
            assertEquals("nf_philox4x32_10: ctr is NULL", nnfuse_h.nf_last_error().getString(0));
        }
    }

    private static int[] nativeBlock(int c0, int c1, int c2, int c3, int k0, int k1) {
        NativeLibrary.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ctr = arena.allocateFrom(ValueLayout.JAVA_INT, c0, c1, c2, c3);
            MemorySegment key = arena.allocateFrom(ValueLayout.JAVA_INT, k0, k1);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT, 4);
            assertEquals(0, nnfuse_h.nf_philox4x32_10(ctr, key, out));
            return out.toArray(ValueLayout.JAVA_INT);
        }
    }
}
