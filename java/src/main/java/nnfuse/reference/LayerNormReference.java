package nnfuse.reference;

/**
 * LayerNorm over the last dimension in plain Java, accumulating in double: the
 * oracle the native kernels are tested against. Written for clarity, not speed.
 * Stateless and thread-safe.
 */
public final class LayerNormReference {
    private LayerNormReference() {}

    /** Output and saved statistics of a forward pass, all in double. */
    public record Forward(double[] y, double[] mean, double[] rstd) {}

    /**
     * {@code y = (x - mean) / sqrt(var + eps) * gamma + beta} per row of
     * {@code x[rows, cols]}, with the biased variance computed in two passes.
     *
     * @param gamma scale {@code [cols]}, or null for none
     * @param beta  shift {@code [cols]}, or null for none
     */
    public static Forward forward(float[] x, float[] gamma, float[] beta, int rows, int cols, double eps) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        return forward(ReferenceChecks.widen(x), gamma, beta, rows, cols, eps);
    }

    /**
     * The same on a double input, for references that compose LayerNorm after another op without rounding
     * its output to float in between.
     */
    public static Forward forward(double[] x, float[] gamma, float[] beta, int rows, int cols, double eps) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        if (gamma != null) {
            ReferenceChecks.requireLength("gamma", gamma, cols);
        }
        if (beta != null) {
            ReferenceChecks.requireLength("beta", beta, cols);
        }
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
            double rs = 1.0 / Math.sqrt(ss / cols + eps);
            for (int j = 0; j < cols; j++) {
                double v = (x[base + j] - mu) * rs;
                if (gamma != null) {
                    v *= gamma[j];
                }
                if (beta != null) {
                    v += beta[j];
                }
                y[base + j] = v;
            }
            mean[r] = mu;
            rstd[r] = rs;
        }
        return new Forward(y, mean, rstd);
    }
}
