package nnfuse.nn;

import nnfuse.CrossEntropyOps;
import nnfuse.CrossEntropyOps.Reduction;
import nnfuse.DType;
import nnfuse.Tensor;

/**
 * The cross-entropy of logits {@code [N, C]} and class labels {@code [N]} as a
 * scalar loss to train on, as PyTorch's {@code nn.CrossEntropyLoss(weight,
 * ignore_index, reduction, label_smoothing)} with a {@code 'mean'} or
 * {@code 'sum'} reduction; see {@link CrossEntropyOps} for the formula. The
 * defaults are PyTorch's: the mean, no class weights, {@code ignoreIndex}
 * -100, no smoothing. Per-sample losses ({@code reduction='none'}) and their
 * gradient are {@link CrossEntropyOps}'s, with a {@code [N]} upstream
 * gradient.
 *
 * <p>{@link #forward} returns the loss and keeps copies of the logits and the
 * labels; {@link #backward()} returns the gradient with respect to those
 * logits and frees them, as a module's backward does. {@link #close()} frees
 * the class weights and anything kept.
 *
 * <p>Not thread-safe: a forward and its backward share state.
 */
public final class CrossEntropyLoss implements AutoCloseable {
    private static final String NAME = "CrossEntropyLoss";

    private final Tensor weight;
    private final Reduction reduction;
    private final long ignoreIndex;
    private final float labelSmoothing;
    private Tensor keptLogits;
    private Tensor keptLabels;
    private boolean closed;

    /** PyTorch's defaults: the mean over the samples, no class weights, ignoreIndex -100, no smoothing. */
    public CrossEntropyLoss() {
        this(null, Reduction.MEAN, CrossEntropyOps.DEFAULT_IGNORE_INDEX, 0f);
    }

    /**
     * @param weight         per-class weights, float32 {@code [C]}, copied; or null for none
     * @param reduction      {@link Reduction#MEAN} (the weighted mean over the samples not ignored) or
     *                       {@link Reduction#SUM}
     * @param ignoreIndex    the label of samples that contribute nothing
     * @param labelSmoothing in [0, 1]; 0 for none
     */
    public CrossEntropyLoss(Tensor weight, Reduction reduction, long ignoreIndex, float labelSmoothing) {
        if (reduction == null || reduction == Reduction.NONE) {
            throw new IllegalArgumentException(NAME + ": reduction must be MEAN or SUM (a scalar loss), got "
                    + reduction + "; CrossEntropyOps.forward and backward give per-sample losses and their gradient");
        }
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
            throw new IllegalArgumentException(NAME + ": label_smoothing must be between 0.0 and 1.0. Got: "
                    + labelSmoothing);
        }
        if (weight != null && (weight.isClosed() || weight.dtype() != DType.FLOAT32 || weight.rank() != 1)) {
            throw new IllegalArgumentException(NAME + ": weight must be an open float32 tensor [C], got " + weight);
        }
        this.weight = weight == null ? null : Module.copy(weight);
        this.reduction = reduction;
        this.ignoreIndex = ignoreIndex;
        this.labelSmoothing = labelSmoothing;
    }

    /**
     * The loss of {@code logits} for {@code labels}, keeping copies of both for
     * {@link #backward()} (and freeing what an earlier forward kept).
     *
     * @param logits float32 {@code [N, C]}
     * @param labels int64 {@code [N]}, each in {@code [0, C)} or {@code ignoreIndex}
     * @throws IllegalArgumentException as {@link CrossEntropyOps#forward(Tensor, Tensor, Tensor, Reduction, long,
     *     float)} does
     */
    public float forward(Tensor logits, Tensor labels) {
        checkOpen();
        release();
        float loss;
        try (Tensor value = CrossEntropyOps.forward(logits, labels, weight, reduction, ignoreIndex,
                labelSmoothing)) {
            loss = value.get(0);
        }
        keptLogits = Module.copy(logits);
        try {
            keptLabels = Module.copy(labels);
        } catch (RuntimeException e) {
            release();
            throw e;
        }
        return loss;
    }

    /**
     * The gradient of the last forward's loss with respect to its logits, a new
     * {@code [N, C]} tensor the caller owns: PyTorch's {@code logits.grad} after
     * {@code loss.backward()}. Frees what the forward kept.
     *
     * @throws IllegalStateException without a preceding forward, or when a backward already used it
     */
    public Tensor backward() {
        return backward(1f);
    }

    /**
     * As {@link #backward()}, for a loss scaled by {@code gradLoss} (the
     * gradient of a larger objective with respect to this loss).
     *
     * @param gradLoss the upstream gradient; finite
     */
    public Tensor backward(float gradLoss) {
        checkOpen();
        if (keptLogits == null) {
            throw new IllegalStateException(NAME + ": backward needs a preceding forward, and there is none (no "
                    + "forward yet, or a backward already used it)");
        }
        if (!Float.isFinite(gradLoss)) {
            throw new IllegalArgumentException(NAME + ": gradLoss must be finite, got " + gradLoss);
        }
        try (Tensor dloss = Tensor.of(keptLogits.device(), new float[] {gradLoss}, 1)) {
            // In place: the kept copy of the logits becomes their gradient, handed to the caller.
            CrossEntropyOps.backward(keptLogits, dloss, keptLogits, keptLabels, weight, reduction, ignoreIndex,
                    labelSmoothing);
            Tensor dlogits = keptLogits;
            keptLogits = null;
            return dlogits;
        } finally {
            release();
        }
    }

    /** Frees the class weights and what a forward kept. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        release();
        if (weight != null) {
            weight.close();
        }
    }

    /** PyTorch's repr, e.g. {@code CrossEntropyLoss(reduction=MEAN, ignore_index=-100, label_smoothing=0.0)}. */
    @Override
    public String toString() {
        return NAME + "(" + (weight == null ? "" : "weight=" + weight.describe() + ", ") + "reduction=" + reduction
                + ", ignore_index=" + ignoreIndex + ", label_smoothing=" + labelSmoothing + ")";
    }

    private void release() {
        if (keptLogits != null) {
            keptLogits.close();
            keptLogits = null;
        }
        if (keptLabels != null) {
            keptLabels.close();
            keptLabels = null;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }
}
