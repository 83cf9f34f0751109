package nnfuse.reference;

/**
 * Softmax and log-softmax over the rows of {@code x[rows, cols]} in plain Java,
 * in double: the oracle the native kernels are tested against. Written for
 * clarity, not speed. Stateless and thread-safe.
 */
public final class SoftmaxReference {
    private SoftmaxReference() {}

    /** {@code exp(x - max) / sum exp(x - max)} per row; NaN for rows with NaN, +inf, or only -inf. */
    public static double[] softmax(float[] x, int rows, int cols) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        return softmax(ReferenceChecks.widen(x), rows, cols);
    }

    /** The same on a double input, for finite differences and for composing with other references. */
    public static double[] softmax(double[] x, int rows, int cols) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        double[] y = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double max = rowMax(x, base, cols);
            double sum = 0;
            for (int j = 0; j < cols; j++) {
                sum += Math.exp(x[base + j] - max);
            }
            for (int j = 0; j < cols; j++) {
                y[base + j] = Math.exp(x[base + j] - max) / sum;
            }
        }
        return y;
    }

    /** {@code x - max - log(sum exp(x - max))} per row; NaN for rows with NaN, +inf, or only -inf. */
    public static double[] logSoftmax(float[] x, int rows, int cols) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        return logSoftmax(ReferenceChecks.widen(x), rows, cols);
    }

    /** The same on a double input, for finite differences and for composing with other references. */
    public static double[] logSoftmax(double[] x, int rows, int cols) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        double[] y = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double max = rowMax(x, base, cols);
            double sum = 0;
            for (int j = 0; j < cols; j++) {
                sum += Math.exp(x[base + j] - max);
            }
            double logSum = Math.log(sum);
            for (int j = 0; j < cols; j++) {
                y[base + j] = (x[base + j] - max) - logSum;
            }
        }
        return y;
    }

    /** The row maximum; Math.max returns NaN when either argument is NaN, as PyTorch's max does. */
    private static double rowMax(double[] x, int base, int cols) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < cols; j++) {
            max = Math.max(max, x[base + j]);
        }
        return max;
    }
}
