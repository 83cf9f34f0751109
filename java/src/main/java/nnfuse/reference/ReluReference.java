package nnfuse.reference;

/**
 * ReLU in plain Java: the oracle the native kernels are tested against. Stateless and thread-safe.
 */
public final class ReluReference {
    private ReluReference() {}

    /** {@code max(x, 0)} element-wise; NaN stays NaN, as in PyTorch. */
    public static double[] forward(float[] x) {
        if (x == null) {
            throw new IllegalArgumentException("x must not be null");
        }
        return forward(ReferenceChecks.widen(x));
    }

    /** The same on doubles, for references that compose ReLU after another op. */
    public static double[] forward(double[] x) {
        if (x == null) {
            throw new IllegalArgumentException("x must not be null");
        }
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = Double.isNaN(x[i]) || x[i] > 0 ? x[i] : 0.0;
        }
        return y;
    }
}
