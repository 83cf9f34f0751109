package nnfuse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Cross-entropy between logits {@code [N, C]} and integer class labels
 * {@code [N]}, exactly as PyTorch's
 * {@code torch.nn.functional.cross_entropy(logits, labels, weight=weight,
 * ignore_index=ignoreIndex, reduction=reduction, label_smoothing=labelSmoothing)}.
 * With {@code logp = log_softmax(logits)}, {@code e = labelSmoothing},
 * {@code w} the class weights (all ones when absent) and {@code t = labels[i]}:
 * <pre>
 *   loss_i = (1 - e) * (-w[t] * logp[i, t]) + (e / C) * (-sum_c w[c] * logp[i, c])
 * </pre>
 * and {@code loss_i = 0} for a sample whose label is {@code ignoreIndex}.
 * {@link Reduction#MEAN} divides {@code sum_i loss_i} by PyTorch's total weight,
 * {@code sum_i w[t_i]} over the samples not ignored (their count without
 * weights), also for the smoothing term; it is NaN (0/0) when every sample is
 * ignored. The log-softmax is stabilized by the row maximum, so logits in the
 * thousands are fine; per-sample values and the sums over samples (in index
 * order) are computed in double. {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor, Reduction, long, float)}
 * gives the gradient with respect to the logits.
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the
 * tensors passed in. Results do not depend on {@link Nnfuse#setThreads}.
 */
public final class CrossEntropyOps {
    /** PyTorch's default {@code ignore_index}: a label that no class has. */
    public static final long DEFAULT_IGNORE_INDEX = -100;

    /** How per-sample losses are combined, as PyTorch's {@code reduction='none'|'mean'|'sum'}. */
    public enum Reduction {
        /** One loss per sample, shape {@code [N]}. */
        NONE,
        /** The weighted mean over the samples not ignored, shape {@code [1]}. */
        MEAN,
        /** The sum over samples, shape {@code [1]}. */
        SUM;

        private int code() {
            return switch (this) {
                case NONE -> nnfuse_h.NF_REDUCTION_NONE();
                case MEAN -> nnfuse_h.NF_REDUCTION_MEAN();
                case SUM -> nnfuse_h.NF_REDUCTION_SUM();
            };
        }
    }

    private static final String BACKWARD = "crossEntropyBackward";

    private CrossEntropyOps() {}

    /** The mean cross-entropy without class weights or smoothing, as {@code F.cross_entropy(logits, labels)}. */
    public static float forward(Tensor logits, Tensor labels) {
        try (Tensor loss = forward(logits, labels, null, Reduction.MEAN, DEFAULT_IGNORE_INDEX, 0f)) {
            return loss.get(0);
        }
    }

    /**
     * The cross-entropy in a new tensor: {@code [N]} for {@link Reduction#NONE},
     * else {@code [1]}.
     *
     * @param logits         float32 {@code [N, C]}
     * @param labels         int64 {@code [N]}; each in {@code [0, C)} or equal to {@code ignoreIndex}
     * @param weight         float32 {@code [C]} per-class weights, or null for none
     * @param reduction      how to combine per-sample losses
     * @param ignoreIndex    label of samples that contribute nothing ({@link #DEFAULT_IGNORE_INDEX})
     * @param labelSmoothing in {@code [0, 1]}; 0 for none
     */
    public static Tensor forward(Tensor logits, Tensor labels, Tensor weight, Reduction reduction,
            long ignoreIndex, float labelSmoothing) {
        final String op = "crossEntropy";
        checkLogits(op, logits);
        Checks.notNull(op, "reduction", reduction);
        long[] shape = reduction == Reduction.NONE ? new long[] {logits.size(0)} : new long[] {1};
        return Outputs.fill(Tensor.zeros(logits.device(), shape),
                loss -> forward(loss, logits, labels, weight, reduction, ignoreIndex, labelSmoothing));
    }

    /**
     * Writes the cross-entropy into {@code loss}: shape {@code [N]} for
     * {@link Reduction#NONE}, else {@code [1]}. Other arguments as in
     * {@link #forward(Tensor, Tensor, Tensor, Reduction, long, float)}.
     */
    public static void forward(Tensor loss, Tensor logits, Tensor labels, Tensor weight, Reduction reduction,
            long ignoreIndex, float labelSmoothing) {
        final String op = "crossEntropy";
        checkLogits(op, logits);
        long rows = logits.size(0);
        long classes = logits.size(1);
        String logitsText = "logits " + logits.describe();
        Checks.notNull(op, "reduction", reduction);
        Checks.tensor(op, "loss", loss);
        Checks.shape(op, "loss", loss, reduction == Reduction.NONE ? new long[] {rows} : new long[] {1},
                "reduction " + reduction + " of " + logitsText);
        checkTargets(op, labels, weight, logits, ignoreIndex, labelSmoothing);
        Device device = Checks.device(op, List.of("loss", "logits", "labels", "weight"), loss, logits, labels, weight);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_cross_entropy_fwd_f32(loss.address(), logits.address(), labels.address(),
                    Tensor.segmentOrNull(weight), rows, classes, ignoreIndex, labelSmoothing, reduction.code(),
                    device.index()));
        } else {
            Status.check(nnfuse_h.nf_cross_entropy_fwd_f32(loss.address(), logits.address(), labels.address(),
                    Tensor.segmentOrNull(weight), rows, classes, ignoreIndex, labelSmoothing, reduction.code()));
        }
    }

    /**
     * The gradient of {@link #forward(Tensor, Tensor)}, the mean loss without
     * weights or smoothing, with respect to the logits, in a new tensor:
     * {@code (softmax(logits) - onehot(labels)) / N} over the N samples not ignored.
     */
    public static Tensor backward(Tensor logits, Tensor labels) {
        checkLogits(BACKWARD, logits);
        try (Tensor one = Tensor.of(logits.device(), new float[] {1}, 1)) {
            return backward(one, logits, labels, null, Reduction.MEAN, DEFAULT_IGNORE_INDEX, 0f);
        }
    }

    /**
     * The gradient with respect to the logits in a new tensor of their shape.
     *
     * @see #backward(Tensor, Tensor, Tensor, Tensor, Tensor, Reduction, long, float)
     */
    public static Tensor backward(Tensor dloss, Tensor logits, Tensor labels, Tensor weight, Reduction reduction,
            long ignoreIndex, float labelSmoothing) {
        checkLogits(BACKWARD, logits);
        return Outputs.fill(Tensor.zeros(logits.device(), logits.shape()),
                dlogits -> backward(dlogits, dloss, logits, labels, weight, reduction, ignoreIndex, labelSmoothing));
    }

    /**
     * Writes the gradient of the loss of
     * {@link #forward(Tensor, Tensor, Tensor, Reduction, long, float)} with
     * respect to the logits into {@code dlogits}, softmax and loss in one pass
     * (the gradient PyTorch's autograd gives through {@code log_softmax} and
     * {@code nll_loss}). With {@code p = softmax(logits[i])}, {@code W = sum_c w[c]}
     * and the smoothing terms only when {@code e > 0}:
     * <pre>
     *   dlogits[i, j] = g_i * (s_i * p[j] - q_i[j])
     *   s_i = (1 - e) * w[t] + (e / C) * W,   q_i[j] = (1 - e) * w[t] * [j == t] + (e / C) * w[j]
     * </pre>
     * which is {@code p - onehot(t)} without weights or smoothing; a sample
     * whose label is {@code ignoreIndex} gets 0. The per-sample factor
     * {@code g_i} is {@code dloss[i]} for {@link Reduction#NONE}, {@code dloss[0]}
     * for {@link Reduction#SUM}, and {@code dloss[0]} divided by the forward's
     * total weight for {@link Reduction#MEAN} (every gradient is 0 when every
     * sample is ignored, as in PyTorch). Rows are independent, so results do not
     * depend on the thread count.
     *
     * @param dlogits output, shape of {@code logits}; may be {@code logits} itself (in place)
     * @param dloss   gradient of the objective with respect to the loss: {@code [N]} for
     *                {@link Reduction#NONE}, else {@code [1]} (1 for the loss itself)
     * @see #forward(Tensor, Tensor, Tensor, Reduction, long, float)
     */
    public static void backward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor labels, Tensor weight,
            Reduction reduction, long ignoreIndex, float labelSmoothing) {
        final String op = BACKWARD;
        checkLogits(op, logits);
        Checks.notNull(op, "reduction", reduction);
        Checks.tensor(op, "dlogits", dlogits);
        Checks.tensor(op, "dloss", dloss);
        String logitsText = "logits " + logits.describe();
        long rows = logits.size(0);
        Checks.shape(op, "dlogits", dlogits, logits.shape(), "the shape of " + logitsText);
        Checks.shape(op, "dloss", dloss, reduction == Reduction.NONE ? new long[] {rows} : new long[] {1},
                "reduction " + reduction + " of " + logitsText);
        checkTargets(op, labels, weight, logits, ignoreIndex, labelSmoothing);
        Device device = Checks.device(op, List.of("dlogits", "dloss", "logits", "labels", "weight"), dlogits, dloss,
                logits, labels, weight);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_cross_entropy_bwd_f32(dlogits.address(), dloss.address(),
                    logits.address(), labels.address(), Tensor.segmentOrNull(weight), rows, logits.size(1),
                    ignoreIndex, labelSmoothing, reduction.code(), device.index()));
        } else {
            Status.check(nnfuse_h.nf_cross_entropy_bwd_f32(dlogits.address(), dloss.address(), logits.address(),
                    labels.address(), Tensor.segmentOrNull(weight), rows, logits.size(1), ignoreIndex,
                    labelSmoothing, reduction.code()));
        }
    }

    private static void checkLogits(String op, Tensor logits) {
        Checks.tensor(op, "logits", logits);
        Checks.rank(op, "logits", logits, 2, "[N, C]");
    }

    /** The checks of labels, weight and smoothing that the forward and the backward share. */
    private static void checkTargets(String op, Tensor labels, Tensor weight, Tensor logits, long ignoreIndex,
            float labelSmoothing) {
        String logitsText = "logits " + logits.describe();
        Checks.tensor(op, "labels", labels, DType.INT64);
        Checks.optional(op, "weight", weight);
        Checks.shape(op, "labels", labels, new long[] {logits.size(0)}, "one per row of " + logitsText);
        Checks.shape(op, "weight", weight, new long[] {logits.size(1)}, "one per class of " + logitsText);
        Checks.inRange(op, "labelSmoothing", labelSmoothing, 0, 1);
        checkLabelValues(op, labels, logits.size(1), ignoreIndex, logitsText);
    }

    /**
     * PyTorch raises "Target t is out of bounds"; this names the sample too. Labels in device memory are copied
     * to the host for it, which waits for the work enqueued before (the native op checks them again on the device).
     */
    private static void checkLabelValues(String op, Tensor labels, long classes, long ignoreIndex, String logitsText) {
        long[] values = labels.device().isCuda() ? labels.toLongArray() : null;
        MemorySegment s = values == null ? labels.segment() : MemorySegment.ofArray(values);
        for (long i = 0; i < labels.numel(); i++) {
            long t = s.getAtIndex(ValueLayout.JAVA_LONG, i);
            if (t != ignoreIndex && (t < 0 || t >= classes)) {
                throw new IllegalArgumentException(op + ": labels[" + i + "] = " + t + " is out of range for "
                        + classes + " classes of " + logitsText + " (expected 0 <= label < " + classes
                        + ", or ignoreIndex " + ignoreIndex + ")");
            }
        }
    }
}
