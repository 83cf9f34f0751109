package nnfuse.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.HexFormat;
import nnfuse.testing.PhiloxFixture;
import org.junit.jupiter.api.Test;

/**
 * Philox4x32-10: Random123's published known answers, the cuRAND stream layout
 * of {@code draw}, a fixture from an independent numpy implementation of
 * cuRAND's state machine, and the {@code curand_uniform} conversion.
 */
class Philox4x32Test {
    private static final long[] SEEDS = {0L, 1L, 42L, 0x0123456789ABCDEFL, 1L << 32, -1L};
    private static final long[] BLOCKS = {
        0L, 1L, 2L, 0xFFFFFFFEL, 0xFFFFFFFFL, 1L << 32, (1L << 32) + 1, 0x123456789AL, (1L << 62) - 1,
    };

    /**
     * Random123 tests/kat_vectors lines 27-29 (github.com/DEShawResearch/random123,
     * commit 9545ff6413f258be2f04c1d319d99aaef7521150): the three "philox4x32 10"
     * lines. Columns: CTR (4 words), KEY (2 words), EXPECTED (4 words).
     */
    static final int[][] KAT = {
        {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
            0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
            0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
            0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };

    @Test
    void random123KnownAnswers() {
        for (int[] v : KAT) {
            int[] out = Philox4x32.block(v[0], v[1], v[2], v[3], v[4], v[5]);
            assertArrayEquals(new int[] {v[6], v[7], v[8], v[9]}, out,
                    () -> "ctr/key " + hex(v[0], v[1], v[2], v[3], v[4], v[5]) + " gave " + hex(out));
        }
    }

    /**
     * Random123 tests/old_kat_vectors lines 98, 99, 111 and 112 (same commit):
     * counter (1, 0, 0, 0) or (0, 1, 0, 0) under key (1, 0) or (0, 1). Read
     * through cuRAND's layout they are draws 4..7 and 2^34..2^34+3 of seeds 1
     * and 2^32, pinning which seed half is key word 0 and which index bits are
     * counter word 1 to published numbers rather than to this class.
     */
    @Test
    void drawMatchesPublishedBlocksThroughCurandLayout() {
        assertDraws(1L, 4L, 0xac08141b, 0xdfc5ccbe, 0x79c07a47, 0xa7f66093);
        assertDraws(1L, 1L << 34, 0x833ff8dc, 0x225c963c, 0x232b88b3, 0x0b334b07);
        assertDraws(1L << 32, 4L, 0xccf3076a, 0x6306f434, 0xbea71965, 0xd96fe48a);
        assertDraws(1L << 32, 1L << 34, 0x532f1322, 0x36c890fb, 0x6504b937, 0x07bbfef7);
    }

    @Test
    void drawIsWordOfBlockAtQuarterIndex() {
        for (long seed : SEEDS) {
            for (long k : BLOCKS) {
                int[] words = Philox4x32.block((int) k, (int) (k >>> 32), 0, 0, (int) seed, (int) (seed >>> 32));
                for (int w = 0; w < 4; w++) {
                    long index = 4 * k + w;
                    int word = w;
                    assertEquals(words[w], Philox4x32.draw(seed, index),
                            () -> "seed " + Long.toHexString(seed) + " index " + Long.toUnsignedString(index)
                                    + " word " + word);
                }
            }
        }
    }

    /**
     * cuRAND's offset is an unsigned long long: index -1 is 2^64 - 1, word 3 of
     * counter 2^62 - 1, and Long.MIN_VALUE is 2^63, word 0 of counter 2^61.
     */
    @Test
    void drawReadsIndexAsUnsigned() {
        for (long seed : SEEDS) {
            int[] words = Philox4x32.block(-1, 0x3FFFFFFF, 0, 0, (int) seed, (int) (seed >>> 32));
            assertEquals(words[3], Philox4x32.draw(seed, -1L));
            int[] half = Philox4x32.block(0, 0x20000000, 0, 0, (int) seed, (int) (seed >>> 32));
            assertEquals(half[0], Philox4x32.draw(seed, Long.MIN_VALUE));
        }
    }

    /** draws_seed42.txt: an independent numpy Philox driven by cuRAND's state machine ({@link PhiloxFixture}). */
    @Test
    void drawMatchesIndependentCurandStateMachineFixture() throws IOException {
        int blocks = 0;
        int draws = 0;
        for (PhiloxFixture.Block block : PhiloxFixture.read()) {
            blocks++;
            for (int i = 0; i < block.values().size(); i++) {
                long index = block.offset() + i;
                long expected = block.values().get(i);
                assertEquals(expected, Integer.toUnsignedLong(Philox4x32.draw(block.seed(), index)),
                        () -> "seed " + block.seed() + " index " + index);
                draws++;
            }
        }
        assertEquals(3, blocks);
        assertEquals(64 + 16 + 16, draws);
    }

    /** curand_globals.h CURAND_2POW32_INV (2.3283064e-10f) is exactly 2^-32 in float. */
    @Test
    void curandConstantIsExactPowerOfTwo() {
        assertEquals(0x1p-32f, 2.3283064e-10f);
    }

    /** curand_uniform.h _curand_uniform: x * 2^-32 + 2^-33 in float, x rounded to float first. */
    @Test
    void uniformMatchesCurandFormula() {
        assertEquals(0x1p-33f, Philox4x32.uniform(0));
        assertEquals(0x1.8p-32f, Philox4x32.uniform(1));
        assertEquals(0.5f, Philox4x32.uniform(0x80000000));
        assertEquals(Math.nextDown(1.0f), Philox4x32.uniform(0xFFFFFF7F));
        assertEquals(1.0f, Philox4x32.uniform(0xFFFFFF80));
        assertEquals(1.0f, Philox4x32.uniform(0xFFFFFFFF));
        for (long x = 0; x <= 0xFFFFFFFFL; x += 0x00FEDCBAL) {
            float expected = (float) ((float) x * 0x1p-32 + 0x1p-33);
            assertEquals(expected, Philox4x32.uniform((int) x), "x = " + x);
        }
    }

    @Test
    void uniformIsInHalfOpenUnitInterval() {
        for (long index = 0; index < 4096; index++) {
            float u = Philox4x32.uniform(Philox4x32.draw(7L, index));
            assertTrue(u > 0f && u <= 1f, "u = " + u);
        }
    }

    private static void assertDraws(long seed, long firstIndex, int... expected) {
        int[] actual = new int[expected.length];
        for (int i = 0; i < expected.length; i++) {
            actual[i] = Philox4x32.draw(seed, firstIndex + i);
        }
        assertArrayEquals(expected, actual, () -> "seed " + Long.toHexString(seed) + " from index "
                + Long.toUnsignedString(firstIndex) + " gave " + hex(actual));
    }

    private static String hex(int... words) {
        HexFormat format = HexFormat.of();
        StringBuilder s = new StringBuilder();
        for (int w : words) {
            s.append(s.isEmpty() ? "" : " ").append(format.toHexDigits(w));
        }
        return s.toString();
    }
}
