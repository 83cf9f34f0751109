package nnfuse.reference;

import nnfuse.CrossEntropyOps.Reduction;

/**
 * PyTorch's {@code torch.nn.functional.cross_entropy} with class indices in
 * plain Java, in double, following the structure of PyTorch's own code
 * (aten/src/ATen/native/LossNLL.cpp): an nll loss of the log-softmax, plus for
 * {@code labelSmoothing > 0} a smoothing loss reduced separately and combined as
 * {@code (1 - e) * nll + smooth * (e / C)}, and the gradient with respect to
 * the logits by the chain rule through the same graph. The oracle the native
 * kernels are tested against. Written for clarity, not speed. Stateless and
 * thread-safe.
 */
public final class CrossEntropyReference {
    private CrossEntropyReference() {}

    /**
     * The loss: {@code [rows]} values for {@link Reduction#NONE}, else one.
     *
     * @param weight per-class weights {@code [classes]}, or null for none
     * @throws IllegalArgumentException for a label neither {@code ignoreIndex} nor in {@code [0, classes)}
     */
    public static double[] forward(float[] logits, long[] labels, float[] weight, int rows, int classes,
            Reduction reduction, long ignoreIndex, double labelSmoothing) {
        ReferenceChecks.requireLength("logits", logits, (long) rows * classes);
        return forward(ReferenceChecks.widen(logits), labels, weight, rows, classes, reduction, ignoreIndex,
                labelSmoothing);
    }

    /** The same on double logits, for finite differences. */
    public static double[] forward(double[] logits, long[] labels, float[] weight, int rows, int classes,
            Reduction reduction, long ignoreIndex, double labelSmoothing) {
        ReferenceChecks.requireLength("logits", logits, (long) rows * classes);
        checkLabels(labels, weight, rows, classes, ignoreIndex);
        double[] logp = SoftmaxReference.logSoftmax(logits, rows, classes);
        double[] nll = new double[rows];
        double[] smooth = new double[rows];
        double totalWeight = totalWeight(labels, weight, ignoreIndex);
        for (int i = 0; i < rows; i++) {
            long t = labels[i];
            if (t == ignoreIndex) {
                continue;
            }
            double wt = weight == null ? 1 : weight[(int) t];
            nll[i] = -wt * logp[i * classes + (int) t];
            for (int c = 0; c < classes; c++) {
                smooth[i] -= (weight == null ? 1 : weight[c]) * logp[i * classes + c];
            }
        }
        double[] nllReduced = reduce(nll, reduction, totalWeight);
        if (labelSmoothing == 0) {
            return nllReduced;
        }
        double[] smoothReduced = reduce(smooth, reduction, totalWeight);
        double[] loss = new double[nllReduced.length];
        for (int i = 0; i < loss.length; i++) {
            loss[i] = (1 - labelSmoothing) * nllReduced[i] + smoothReduced[i] * (labelSmoothing / classes);
        }
        return loss;
    }

    /**
     * The gradient of {@link #forward} with respect to the logits, by the chain
     * rule through PyTorch's graph: each sample's loss gets the gradient
     * {@code g_i} ({@code dloss[i]} for {@link Reduction#NONE}, {@code dloss[0]}
     * for SUM, {@code dloss[0] / totalWeight} for MEAN); its derivative with
     * respect to the log-probabilities is
     * {@code dlogp[c] = -g_i * ((1 - e) * w[t] * [c == t] + (e / C) * w[c])}
     * (the smoothing term only when {@code e > 0}), and the log-softmax's
     * backward is {@code dx = dlogp - softmax(x) * sum_c dlogp[c]}. Ignored
     * samples get 0.
     *
     * @param dloss {@code [rows]} for {@link Reduction#NONE}, else {@code [1]}
     */
    public static double[] backward(float[] dloss, float[] logits, long[] labels, float[] weight, int rows,
            int classes, Reduction reduction, long ignoreIndex, double labelSmoothing) {
        ReferenceChecks.requireLength("logits", logits, (long) rows * classes);
        return backward(dloss, ReferenceChecks.widen(logits), labels, weight, rows, classes, reduction, ignoreIndex,
                labelSmoothing);
    }

    /** The same on double logits, for references that compute the logits in double (a model's training step). */
    public static double[] backward(float[] dloss, double[] logits, long[] labels, float[] weight, int rows,
            int classes, Reduction reduction, long ignoreIndex, double labelSmoothing) {
        ReferenceChecks.requireLength("logits", logits, (long) rows * classes);
        checkLabels(labels, weight, rows, classes, ignoreIndex);
        ReferenceChecks.requireLength("dloss", dloss, reduction == Reduction.NONE ? rows : 1);
        double[] p = SoftmaxReference.softmax(logits, rows, classes);
        double totalWeight = totalWeight(labels, weight, ignoreIndex);
        double[] dx = new double[rows * classes];
        for (int i = 0; i < rows; i++) {
            long t = labels[i];
            if (t == ignoreIndex) {
                continue;
            }
            double g = switch (reduction) {
                case NONE -> dloss[i];
                case SUM -> dloss[0];
                case MEAN -> dloss[0] / totalWeight;
            };
            double[] dlogp = new double[classes];
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                double target = c == t ? (1 - labelSmoothing) * (weight == null ? 1 : weight[c]) : 0;
                double smooth = labelSmoothing > 0 ? labelSmoothing / classes * (weight == null ? 1 : weight[c]) : 0;
                dlogp[c] = -g * (target + smooth);
                sum += dlogp[c];
            }
            for (int c = 0; c < classes; c++) {
                dx[i * classes + c] = dlogp[c] - p[i * classes + c] * sum;
            }
        }
        return dx;
    }

    /** PyTorch's MEAN denominator: the sum of {@code w[t]} over the samples not ignored. */
    private static double totalWeight(long[] labels, float[] weight, long ignoreIndex) {
        double total = 0;
        for (long t : labels) {
            if (t != ignoreIndex) {
                total += weight == null ? 1 : weight[(int) t];
            }
        }
        return total;
    }

    private static void checkLabels(long[] labels, float[] weight, int rows, int classes, long ignoreIndex) {
        ReferenceChecks.requireLength("labels", labels, rows);
        if (weight != null) {
            ReferenceChecks.requireLength("weight", weight, classes);
        }
        for (int i = 0; i < rows; i++) {
            long t = labels[i];
            if (t != ignoreIndex && (t < 0 || t >= classes)) {
                throw new IllegalArgumentException("labels[" + i + "] = " + t + " is out of range for " + classes
                        + " classes");
            }
        }
    }

    private static double[] reduce(double[] perSample, Reduction reduction, double totalWeight) {
        if (reduction == Reduction.NONE) {
            return perSample.clone();
        }
        double sum = 0;
        for (double v : perSample) {
            sum += v;
        }
        return new double[] {reduction == Reduction.MEAN ? sum / totalWeight : sum};
    }
}
