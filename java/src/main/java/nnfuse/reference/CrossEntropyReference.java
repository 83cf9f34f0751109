package nnfuse.reference;

import nnfuse.CrossEntropyOps.Reduction;

/**
 * PyTorch's {@code torch.nn.functional.cross_entropy} with class indices in
 * plain Java, in double, following the structure of PyTorch's own code
 * (aten/src/ATen/native/LossNLL.cpp): an nll loss of the log-softmax, plus for
 * {@code labelSmoothing > 0} a smoothing loss reduced separately and combined as
 * {@code (1 - e) * nll + smooth * (e / C)}. The oracle the native kernel is
 * tested against. Written for clarity, not speed. Stateless and thread-safe.
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
        ReferenceChecks.requireLength("labels", labels, rows);
        if (weight != null) {
            ReferenceChecks.requireLength("weight", weight, classes);
        }
        double[] logp = SoftmaxReference.logSoftmax(logits, rows, classes);
        double[] nll = new double[rows];
        double[] smooth = new double[rows];
        double totalWeight = 0;
        for (int i = 0; i < rows; i++) {
            long t = labels[i];
            if (t == ignoreIndex) {
                continue;
            }
            if (t < 0 || t >= classes) {
                throw new IllegalArgumentException("labels[" + i + "] = " + t + " is out of range for " + classes
                        + " classes");
            }
            double wt = weight == null ? 1 : weight[(int) t];
            nll[i] = -wt * logp[i * classes + (int) t];
            totalWeight += wt;
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
