package nnfuse.reference;

/**
 * LayerNorm over the last dimension and its backward pass in plain Java, accumulating in double: the oracle
 * the native kernels are tested against. Written for clarity, not speed. Stateless and thread-safe.
 */
public final class LayerNormReference {
    private LayerNormReference() {}

    /** Output and saved statistics of a forward pass, all in double. */
    public record Forward(double[] y, double[] mean, double[] rstd) {}

    /**
     * Gradients of a loss with respect to the input and the affine parameters, all in double.
     *
     * @param dx     {@code [rows, cols]}
     * @param dgamma {@code [cols]}
     * @param dbeta  {@code [cols]}
     */
    public record Gradients(double[] dx, double[] dgamma, double[] dbeta) {}

    /**
     * {@code y = (x - mean) / sqrt(var + eps) * gamma + beta} per row of
     * {@code x[rows, cols]}, with the biased variance computed in two passes.
     *
     * @param gamma scale {@code [cols]}, or null for none
     * @param beta  shift {@code [cols]}, or null for none
     */
    public static Forward forward(float[] x, float[] gamma, float[] beta, int rows, int cols, double eps) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        return forward(ReferenceChecks.widen(x), ReferenceChecks.widenOrNull(gamma), ReferenceChecks.widenOrNull(beta),
                rows, cols, eps);
    }

    /**
     * The same on double inputs, for finite differences and for references that compose LayerNorm after another
     * op without rounding its output to float in between.
     */
    public static Forward forward(double[] x, double[] gamma, double[] beta, int rows, int cols, double eps) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        requireOptionalLength("gamma", gamma, cols);
        requireOptionalLength("beta", beta, cols);
        double[] y = new double[rows * cols];
        double[] mean = new double[rows];
        double[] rstd = new double[rows];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double sum = 0;
            for (int j = 0; j < cols; j++) {
                sum += x[base + j];
            }
            double mu = sum / cols;
            double ss = 0;
            for (int j = 0; j < cols; j++) {
                double d = x[base + j] - mu;
                ss += d * d;
            }
            mean[r] = mu;
            rstd[r] = 1.0 / Math.sqrt(ss / cols + eps);
        }
        for (int i = 0; i < rows * cols; i++) {
            y[i] = affine(x, mean, rstd, gamma, beta, i, cols);
        }
        return new Forward(y, mean, rstd);
    }

    /**
     * The gradients of {@link #forward} given {@code dy[rows, cols]}, the gradient of a loss with respect to y,
     * and the forward's per-row {@code mean} and {@code rstd}, as PyTorch's {@code native_layer_norm_backward}.
     * Per row, with {@code xhat = (x - mean) * rstd}, {@code g = dy * gamma} and means over the row,
     * {@code dx = rstd * (g - mean(g) - xhat * mean(g * xhat))}: the chain rule through the row's mean and
     * variance. Over the rows, {@code dgamma = sum dy * xhat} and {@code dbeta = sum dy}. Float data widens to
     * double exactly.
     *
     * @param gamma the forward's scale {@code [cols]}, or null for none
     */
    public static Gradients backward(double[] dy, double[] x, double[] mean, double[] rstd, double[] gamma, int rows,
            int cols) {
        ReferenceChecks.requireLength("dy", dy, (long) rows * cols);
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        ReferenceChecks.requireLength("mean", mean, rows);
        ReferenceChecks.requireLength("rstd", rstd, rows);
        requireOptionalLength("gamma", gamma, cols);
        double[] dx = new double[rows * cols];
        double[] dgamma = new double[cols];
        double[] dbeta = new double[cols];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double[] xhat = new double[cols];
            double[] g = new double[cols];
            double meanG = 0;
            double meanGXhat = 0;
            for (int j = 0; j < cols; j++) {
                xhat[j] = (x[base + j] - mean[r]) * rstd[r];
                g[j] = gamma == null ? dy[base + j] : dy[base + j] * gamma[j];
                meanG += g[j] / cols;
                meanGXhat += g[j] * xhat[j] / cols;
                dgamma[j] += dy[base + j] * xhat[j];
                dbeta[j] += dy[base + j];
            }
            for (int j = 0; j < cols; j++) {
                dx[base + j] = rstd[r] * (g[j] - meanG - xhat[j] * meanGXhat);
            }
        }
        return new Gradients(dx, dgamma, dbeta);
    }

    /**
     * Element {@code i} of x normalized with the given row statistics, then scaled and shifted:
     * {@code (x - mean) * rstd * gamma + beta}, gamma and beta null for none.
     */
    static double affine(double[] x, double[] mean, double[] rstd, double[] gamma, double[] beta, int i, int cols) {
        int r = i / cols;
        int j = i % cols;
        double v = (x[i] - mean[r]) * rstd[r];
        if (gamma != null) {
            v *= gamma[j];
        }
        if (beta != null) {
            v += beta[j];
        }
        return v;
    }

    private static void requireOptionalLength(String name, double[] a, long expected) {
        if (a != null) {
            ReferenceChecks.requireLength(name, a, expected);
        }
    }
}
