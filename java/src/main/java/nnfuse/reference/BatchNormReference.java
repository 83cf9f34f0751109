package nnfuse.reference;

/**
 * BatchNorm over the batch dimension of {@code x[n, c]} in plain Java,
 * accumulating in double: the oracle the native kernels are tested against,
 * with PyTorch's semantics. Written for clarity, not speed. Stateless and
 * thread-safe.
 */
public final class BatchNormReference {
    private BatchNormReference() {}

    /**
     * Output of a forward pass, all in double: y, the per-column mean and rstd
     * that normalized it, and the running statistics after the call (null when
     * none were given).
     */
    public record Forward(double[] y, double[] mean, double[] rstd, double[] runningMean, double[] runningVar) {}

    /**
     * Training mode: each column is normalized with its batch mean and biased
     * variance (two passes); rstd is {@code 1 / sqrt(var + eps)}, or 0 when var
     * and eps are both 0 (PyTorch's InvStd). The running statistics, if given,
     * become {@code momentum * batch + (1 - momentum) * running}, with the
     * unbiased variance.
     *
     * @param runningMean running mean {@code [c]}, or null (with runningVar); not modified
     * @param runningVar  running variance {@code [c]}, or null (with runningMean); not modified
     * @param gamma       scale {@code [c]}, or null for none
     * @param beta        shift {@code [c]}, or null for none
     */
    public static Forward forwardTraining(float[] x, float[] runningMean, float[] runningVar, float[] gamma,
            float[] beta, int n, int c, double eps, double momentum) {
        checkCommon(x, gamma, beta, n, c);
        if (n < 2) {
            throw new IllegalArgumentException("training needs n >= 2, got " + n);
        }
        if ((runningMean == null) != (runningVar == null)) {
            throw new IllegalArgumentException("runningMean and runningVar must both be given or both be null");
        }
        if (runningMean != null) {
            ReferenceChecks.requireLength("runningMean", runningMean, c);
            ReferenceChecks.requireLength("runningVar", runningVar, c);
        }
        double[] mean = new double[c];
        double[] rstd = new double[c];
        double[] newMean = runningMean == null ? null : new double[c];
        double[] newVar = runningVar == null ? null : new double[c];
        for (int j = 0; j < c; j++) {
            double sum = 0;
            for (int r = 0; r < n; r++) {
                sum += x[r * c + j];
            }
            double mu = sum / n;
            double ss = 0;
            for (int r = 0; r < n; r++) {
                double d = x[r * c + j] - mu;
                ss += d * d;
            }
            double var = ss / n;
            mean[j] = mu;
            rstd[j] = var == 0 && eps == 0 ? 0 : 1 / Math.sqrt(var + eps);
            if (runningMean != null) {
                newMean[j] = momentum * mu + (1 - momentum) * runningMean[j];
                newVar[j] = momentum * (ss / (n - 1)) + (1 - momentum) * runningVar[j];
            }
        }
        return new Forward(normalize(x, mean, rstd, gamma, beta, n, c), mean, rstd, newMean, newVar);
    }

    /**
     * Eval mode: each column is normalized with the running statistics,
     * {@code rstd = 1 / sqrt(runningVar + eps)}; they are returned unchanged.
     */
    public static Forward forwardEval(float[] x, float[] runningMean, float[] runningVar, float[] gamma,
            float[] beta, int n, int c, double eps) {
        checkCommon(x, gamma, beta, n, c);
        ReferenceChecks.requireLength("runningMean", runningMean, c);
        ReferenceChecks.requireLength("runningVar", runningVar, c);
        double[] mean = new double[c];
        double[] var = new double[c];
        double[] rstd = new double[c];
        for (int j = 0; j < c; j++) {
            mean[j] = runningMean[j];
            var[j] = runningVar[j];
            rstd[j] = 1 / Math.sqrt(var[j] + eps);
        }
        return new Forward(normalize(x, mean, rstd, gamma, beta, n, c), mean, rstd, mean.clone(), var);
    }

    private static double[] normalize(float[] x, double[] mean, double[] rstd, float[] gamma, float[] beta, int n,
            int c) {
        double[] y = new double[n * c];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < c; j++) {
                double v = (x[r * c + j] - mean[j]) * rstd[j];
                if (gamma != null) {
                    v *= gamma[j];
                }
                if (beta != null) {
                    v += beta[j];
                }
                y[r * c + j] = v;
            }
        }
        return y;
    }

    private static void checkCommon(float[] x, float[] gamma, float[] beta, int n, int c) {
        ReferenceChecks.requireLength("x", x, (long) n * c);
        if (gamma != null) {
            ReferenceChecks.requireLength("gamma", gamma, c);
        }
        if (beta != null) {
            ReferenceChecks.requireLength("beta", beta, c);
        }
    }
}
