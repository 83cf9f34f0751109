package nnfuse.testing;

import java.util.SplittableRandom;

/** Seeded random inputs, the awkward sizes every kernel is tested at, and conversions of test arrays. */
public final class TestData {
    /** Sizes that hit vector-loop tails and thread splits: below, at and just past 8, 32, 128 and 4096. */
    public static final int[] AWKWARD_SIZES = {1, 3, 7, 8, 31, 33, 127, 129, 4097};

    private TestData() {}

    /** {@code n} values from N(mean, sd^2), reproducible from {@code seed}. */
    public static float[] normal(long seed, int n, double mean, double sd) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (mean + sd * gaussian(random));
        }
        return v;
    }

    /** {@code n} values uniform in [lo, hi), reproducible from {@code seed}. */
    public static float[] uniform(long seed, int n, double lo, double hi) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (lo + (hi - lo) * random.nextDouble());
        }
        return v;
    }

    /** {@code a} widened to double (exactly); null stays null. */
    public static double[] widen(float[] a) {
        if (a == null) {
            return null;
        }
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /**
     * Small random sizes for finite-difference checks, reproducible from {@code seed}: {@code count} triples
     * {@code {rows, n, m}} with rows in [1, 7] and n, m in [1, 9], for matrices of up to 7 x 9.
     */
    public static int[][] smallShapes(long seed, int count) {
        SplittableRandom random = new SplittableRandom(seed);
        int[][] shapes = new int[count][];
        for (int i = 0; i < count; i++) {
            shapes[i] = new int[] {1 + random.nextInt(7), 1 + random.nextInt(9), 1 + random.nextInt(9)};
        }
        return shapes;
    }

    private static double gaussian(SplittableRandom random) {
        double u1 = random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u1)) * Math.cos(2 * Math.PI * u2);
    }
}
