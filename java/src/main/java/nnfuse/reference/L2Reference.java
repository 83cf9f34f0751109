package nnfuse.reference;

import java.util.List;

/**
 * The L2 penalty {@code lambda * ||theta||^2} in plain Java, summing in double
 * in index order: the oracle the native kernel is tested against. Written for
 * clarity, not speed. Stateless and thread-safe.
 */
public final class L2Reference {
    private L2Reference() {}

    /** {@code sum_i x[i]^2}. */
    public static double sumOfSquares(float[] x) {
        ReferenceChecks.requireNonNull("x", x);
        double sum = 0;
        for (float v : x) {
            sum += (double) v * v;
        }
        return sum;
    }

    /** {@code lambda * sum_p sumOfSquares(p)} over the parameters in list order. */
    public static double penalty(double lambda, List<float[]> parameters) {
        double sum = 0;
        for (float[] p : parameters) {
            sum += sumOfSquares(p);
        }
        return lambda * sum;
    }
}
