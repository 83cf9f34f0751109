package nnfuse.reference;

import nnfuse.random.Philox4x32;

/**
 * Dropout in plain Java on the pure-Java Philox4x32-10 generator: the oracle
 * the native kernels are tested against. Written for clarity, not speed.
 *
 * <p>Every step is a single float operation (the threshold {@code 1 - p}, the
 * factor {@code 1 / (1 - p)}, one product), so float arithmetic here is exact
 * to the specification and the native kernels must match it bit for bit; no
 * wider accumulation is involved (the double form of the forward, for finite
 * differences, only skips the product's rounding). {@code seed} and
 * {@code offset} are unsigned 64-bit values in {@code long}s. Stateless and
 * thread-safe.
 */
public final class DropoutReference {
    private DropoutReference() {}

    /**
     * Whether stream element {@code index} survives dropout with probability
     * {@code p}: its draw as a {@code curand_uniform} float is below
     * {@code 1 - p} (PyTorch's CUDA comparison), and everything survives
     * {@code p = 0} (PyTorch returns the input then, although a uniform can be
     * exactly 1).
     */
    public static boolean kept(float p, long seed, long index) {
        if (p == 0) {
            return true;
        }
        float u = Philox4x32.uniform(Philox4x32.draw(seed, index));
        return u < 1f - p;
    }

    /** The keep mask of {@code n} elements from stream index {@code offset}: 1 kept, 0 dropped. */
    public static float[] mask(int n, float p, long seed, long offset) {
        requireProbability(p);
        float[] mask = new float[n];
        for (int i = 0; i < n; i++) {
            mask[i] = kept(p, seed, offset + i) ? 1f : 0f;
        }
        return mask;
    }

    /**
     * Dropout of {@code x}: dropped elements are 0, kept ones are
     * {@code x * (1 / (1 - p))} (inverted) or {@code x} (plain); {@code p = 0}
     * returns a copy of {@code x}. A product of two floats is exact in double,
     * so rounding the double forward's result once is the float product.
     */
    public static float[] forward(float[] x, float p, boolean inverted, long seed, long offset) {
        ReferenceChecks.requireNonNull("x", x);
        requireProbability(p);
        if (p == 0) {
            return x.clone();
        }
        double[] exact = forward(ReferenceChecks.widen(x), p, inverted, seed, offset);
        float[] y = new float[x.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) exact[i];
        }
        return y;
    }

    /**
     * The same map on a double input, without rounding to float: kept elements
     * are {@code x * scale} with the float factor {@code scale = 1 / (1 - p)},
     * for finite differences.
     */
    public static double[] forward(double[] x, float p, boolean inverted, long seed, long offset) {
        ReferenceChecks.requireNonNull("x", x);
        requireProbability(p);
        float scale = 1f / (1f - p); // infinite at p = 1, where nothing is kept
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            if (kept(p, seed, offset + i)) {
                y[i] = inverted ? x[i] * scale : x[i];
            }
        }
        return y;
    }

    /**
     * The gradient of {@link #forward} for the same arguments: the Jacobian of
     * dropout is diagonal, {@code kept * scale}, so {@code dx} is the forward
     * applied to {@code dy}, dropped units +0.0 included.
     */
    public static float[] backward(float[] dy, float p, boolean inverted, long seed, long offset) {
        return forward(dy, p, inverted, seed, offset);
    }

    private static void requireProbability(float p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("dropout probability has to be between 0 and 1, but got " + p);
        }
    }
}
