package nnfuse.reference;

/**
 * ReLU and its backward pass in plain Java: the oracle the native kernels are tested against. Stateless and thread-safe.
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

    /**
     * The gradient of {@link #forward} given {@code dy}, the gradient of a loss with respect to its output
     * {@code y}, as PyTorch's {@code threshold_backward(dy, y, 0)}: 0 where {@code y <= 0}, else {@code dy} (so a
     * NaN y passes dy on).
     */
    public static double[] backward(double[] dy, double[] y) {
        ReferenceChecks.requireNonNull("y", y);
        ReferenceChecks.requireLength("dy", dy, y.length);
        double[] dx = new double[y.length];
        for (int i = 0; i < y.length; i++) {
            dx[i] = y[i] <= 0 ? 0.0 : dy[i];
        }
        return dx;
    }
}
