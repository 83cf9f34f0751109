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
        ReferenceChecks.requireLength("x", x, (long) n * c);
        return forwardTraining(ReferenceChecks.widen(x), runningMean, runningVar, ReferenceChecks.widen(gamma),
                ReferenceChecks.widen(beta), n, c, eps, momentum);
    }

    /**
     * The same with {@code x}, {@code gamma} and {@code beta} in double, for
     * finite differences that perturb them by less than a float ulp.
     */
    public static Forward forwardTraining(double[] x, float[] runningMean, float[] runningVar, double[] gamma,
            double[] beta, int n, int c, double eps, double momentum) {
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
        ReferenceChecks.requireLength("x", x, (long) n * c);
        return forwardEval(ReferenceChecks.widen(x), runningMean, runningVar, ReferenceChecks.widen(gamma),
                ReferenceChecks.widen(beta), n, c, eps);
    }

    /** The same with {@code x}, {@code gamma} and {@code beta} in double, for finite differences. */
    public static Forward forwardEval(double[] x, float[] runningMean, float[] runningVar, double[] gamma,
            double[] beta, int n, int c, double eps) {
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

    /** Gradients of a backward pass, in double; a parameter's gradient is the fresh one, never accumulated. */
    public record Backward(double[] dx, double[] dgamma, double[] dbeta) {}

    /**
     * Training-mode backward, the textbook formula (Ioffe and Szegedy, 2015,
     * section 3) per column, with {@code g = dy * gamma} and
     * {@code xhat = (x - mean) * rstd}:
     * {@code dx = rstd / n * (n * g - sum(g) - xhat * sum(g * xhat))},
     * {@code dgamma = sum(dy * xhat)}, {@code dbeta = sum(dy)}.
     *
     * @param mean  the batch means {@code [c]} the forward normalized with
     * @param rstd  the forward's {@code 1 / sqrt(var + eps)} {@code [c]}
     * @param gamma scale {@code [c]}, or null for none
     */
    public static Backward backwardTraining(float[] dy, float[] x, double[] mean, double[] rstd, float[] gamma, int n,
            int c) {
        checkBackward(dy, x, mean, rstd, gamma, n, c);
        double[] dx = new double[n * c];
        double[] dgamma = new double[c];
        double[] dbeta = new double[c];
        for (int j = 0; j < c; j++) {
            double scale = gamma == null ? 1 : gamma[j];
            double sumG = 0;
            double sumGXhat = 0;
            for (int r = 0; r < n; r++) {
                double xhat = (x[r * c + j] - mean[j]) * rstd[j];
                sumG += dy[r * c + j] * scale;
                sumGXhat += dy[r * c + j] * scale * xhat;
                dgamma[j] += dy[r * c + j] * xhat;
                dbeta[j] += dy[r * c + j];
            }
            for (int r = 0; r < n; r++) {
                double xhat = (x[r * c + j] - mean[j]) * rstd[j];
                double g = dy[r * c + j] * scale;
                dx[r * c + j] = rstd[j] / n * (n * g - sumG - xhat * sumGXhat);
            }
        }
        return new Backward(dx, dgamma, dbeta);
    }

    /**
     * Eval-mode backward: the running statistics are constants, so with
     * {@code rstd = 1 / sqrt(runningVar + eps)} and {@code xhat = (x - runningMean) * rstd},
     * {@code dx = dy * gamma * rstd}, {@code dgamma = sum(dy * xhat)}, {@code dbeta = sum(dy)}.
     */
    public static Backward backwardEval(float[] dy, float[] x, float[] runningMean, float[] runningVar,
            float[] gamma, int n, int c, double eps) {
        ReferenceChecks.requireLength("runningMean", runningMean, c);
        ReferenceChecks.requireLength("runningVar", runningVar, c);
        double[] mean = ReferenceChecks.widen(runningMean);
        double[] rstd = new double[c];
        for (int j = 0; j < c; j++) {
            rstd[j] = 1 / Math.sqrt(runningVar[j] + eps);
        }
        checkBackward(dy, x, mean, rstd, gamma, n, c);
        double[] dx = new double[n * c];
        double[] dgamma = new double[c];
        double[] dbeta = new double[c];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < c; j++) {
                double g = dy[r * c + j];
                dx[r * c + j] = g * (gamma == null ? 1 : gamma[j]) * rstd[j];
                dgamma[j] += g * (x[r * c + j] - mean[j]) * rstd[j];
                dbeta[j] += g;
            }
        }
        return new Backward(dx, dgamma, dbeta);
    }

    private static double[] normalize(double[] x, double[] mean, double[] rstd, double[] gamma, double[] beta, int n,
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

    private static void checkCommon(double[] x, double[] gamma, double[] beta, int n, int c) {
        ReferenceChecks.requireLength("x", x, (long) n * c);
        ReferenceChecks.requireOptionalLength("gamma", gamma, c);
        ReferenceChecks.requireOptionalLength("beta", beta, c);
    }

    private static void checkBackward(float[] dy, float[] x, double[] mean, double[] rstd, float[] gamma, int n,
            int c) {
        ReferenceChecks.requireLength("dy", dy, (long) n * c);
        ReferenceChecks.requireLength("x", x, (long) n * c);
        ReferenceChecks.requireLength("mean", mean, c);
        ReferenceChecks.requireLength("rstd", rstd, c);
        if (gamma != null) {
            ReferenceChecks.requireLength("gamma", gamma, c);
        }
    }
}
