package nnfuse.reference;

import java.util.List;

/**
 * The L2 penalty {@code lambda * ||theta||^2} and its gradient in plain Java,
 * in double, summing in index order: the oracle the native kernels are tested
 * against. Written for clarity, not speed. Stateless and thread-safe.
 */
public final class L2Reference {
    private L2Reference() {}

    /** {@code sum_i x[i]^2}. */
    public static double sumOfSquares(float[] x) {
        ReferenceChecks.requireNonNull("x", x);
        return sumOfSquares(ReferenceChecks.widen(x));
    }

    /** The same on a double input, for finite differences. */
    public static double sumOfSquares(double[] x) {
        ReferenceChecks.requireNonNull("x", x);
        double sum = 0;
        for (double v : x) {
            sum += v * v;
        }
        return sum;
    }

    /** The gradient of {@code lambda * sumOfSquares(x)}: {@code 2 * lambda * x}. */
    public static double[] backward(float[] x, double lambda) {
        ReferenceChecks.requireNonNull("x", x);
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            grad[i] = 2 * lambda * x[i];
        }
        return grad;
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
