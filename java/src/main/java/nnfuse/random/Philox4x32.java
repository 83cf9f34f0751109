package nnfuse.random;

/**
 * The Philox4x32-10 counter-based generator (Salmon, Moraes, Dror and Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11) in pure Java, bit for
 * bit equal to Random123's {@code philox4x32_R(10, ...)}, to the native
 * {@code nf_philox4x32_10}, and to cuRAND's {@code curandStatePhilox4_32_10_t}.
 *
 * <p>A block maps a 128-bit counter and a 64-bit key to four 32-bit words
 * through ten rounds. Each round multiplies two counter words by the
 * multipliers {@code 0xD2511F53} and {@code 0xCD9E8D57} and mixes in the key;
 * the key is bumped between rounds by the Weyl increments {@code 0x9E3779B9}
 * (golden ratio) and {@code 0xBB67AE85} (sqrt(3) - 1). All four constants are
 * Random123's {@code PHILOX_M4x32_0/1} and {@code PHILOX_W32_0/1}
 * ({@code include/Random123/philox.h}). The {@code int} arguments and results
 * hold unsigned 32-bit words.
 *
 * <p>{@link #draw(long, long)} indexes the stream cuRAND produces after
 * {@code curand_init(seed, 0, 0, &state)}, and {@link #uniform(int)} is
 * cuRAND's {@code curand_uniform} conversion, so a Java reference and a CUDA
 * kernel that agree on (seed, index) see the same numbers.
 *
 * <p>Stateless: every method is a pure function of its arguments, safe to call
 * from any thread without synchronization.
 */
public final class Philox4x32 {
    private static final long M0 = 0xD2511F53L;
    private static final long M1 = 0xCD9E8D57L;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    private static final long WORD = 0xFFFFFFFFL;
    private static final int ROUNDS = 10;

    /** cuRAND {@code CURAND_2POW32_INV} ({@code curand_globals.h}); the literal rounds to exactly 2^-32. */
    private static final float CURAND_2POW32_INV = 2.3283064e-10f;

    private Philox4x32() {}

    /**
     * One Philox4x32-10 block: Random123's {@code philox4x32_R(10, ctr, key)}.
     * The round is {@code (hi0, lo0) = M0 * c0}, {@code (hi1, lo1) = M1 * c2}
     * (unsigned 32x32 to 64-bit products), then
     * {@code (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)}, with
     * the key bumped before rounds 2 to 10.
     *
     * @param c0 counter word 0 (least significant)
     * @param c1 counter word 1
     * @param c2 counter word 2
     * @param c3 counter word 3 (most significant)
     * @param k0 key word 0
     * @param k1 key word 1
     * @return a new array of the four output words, in Random123's order
     */
    public static int[] block(int c0, int c1, int c2, int c3, int k0, int k1) {
        for (int round = 0; round < ROUNDS; round++) {
            if (round > 0) {
                k0 += W0;
                k1 += W1;
            }
            long p0 = M0 * (c0 & WORD);
            long p1 = M1 * (c2 & WORD);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            c0 = n0;
            c1 = (int) p1;
            c2 = n2;
            c3 = (int) p0;
        }
        return new int[] {c0, c1, c2, c3};
    }

    /**
     * Draw number {@code index} (0-based) of the cuRAND Philox4x32-10 stream
     * started by {@code curand_init(seed, 0, 0, &state)}: the value the
     * {@code (index + 1)}-th {@code curand(&state)} call returns. cuRAND keys the
     * block with the seed's low and high halves, counts blocks in a 128-bit
     * counter and hands out each block's four words in order, so the draw is
     * word {@code index % 4} of {@code block(lo(index / 4), hi(index / 4), 0, 0,
     * lo(seed), hi(seed))}.
     *
     * @param seed  the 64-bit seed, as cuRAND's {@code unsigned long long}
     * @param index the draw number, read as an unsigned 64-bit value
     * @return the draw, an unsigned 32-bit word
     */
    public static int draw(long seed, long index) {
        long counter = index >>> 2;
        int[] words = block((int) counter, (int) (counter >>> 32), 0, 0, (int) seed, (int) (seed >>> 32));
        return words[(int) (index & 3)];
    }

    /**
     * cuRAND's {@code curand_uniform} conversion ({@code _curand_uniform} in
     * {@code curand_uniform.h}): {@code x * CURAND_2POW32_INV + CURAND_2POW32_INV / 2}
     * in float, with {@code x} first rounded to float. The result lies in
     * {@code (0, 1]}: 0 maps to 2^-33, and words from {@code 0xFFFFFF80} up
     * round to exactly 1.0f.
     *
     * @param bits an unsigned 32-bit word, such as a {@link #draw(long, long)}
     * @return the uniform float, never 0
     */
    public static float uniform(int bits) {
        float x = (float) (bits & WORD);
        return x * CURAND_2POW32_INV + CURAND_2POW32_INV / 2.0f;
    }
}
