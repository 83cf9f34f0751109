package nnfuse.nn;

import java.util.List;
import nnfuse.BatchNormOps;
import nnfuse.DType;
import nnfuse.Device;
import nnfuse.Tensor;

/**
 * Batch normalization over the batch dimension of {@code [N, C]} input, as
 * PyTorch's {@code nn.BatchNorm1d(C, eps, momentum, affine,
 * track_running_stats)}; see {@link BatchNormOps}.
 *
 * <p>In training mode it normalizes with the batch's mean and biased variance
 * and, when tracking, counts the batch in {@code num_batches_tracked} and moves
 * the running statistics: {@code running = (1 - m) running + m stat} (the
 * variance term unbiased), where {@code m} is {@code momentum}, or
 * {@code 1 / num_batches_tracked} when momentum is null (a cumulative average).
 * In evaluation mode it normalizes with the running statistics, or, without
 * them ({@code trackRunningStats} false), with the batch's, as PyTorch does.
 * Buffers start as PyTorch's: {@code running_mean} 0, {@code running_var} 1,
 * {@code num_batches_tracked} 0 (int64); {@code weight} 1 and {@code bias} 0.
 *
 * <p>A forward in training mode keeps a copy of its input and the batch's
 * per-channel mean and rstd ({@code 1 / sqrt(var + eps)}), what
 * {@link BatchNormOps#backwardTraining} needs; its backward is that of the batch
 * statistics (PyTorch's {@code training=True}). A forward in evaluation mode
 * keeps nothing, so a model is fine-tuned through batch norm in training mode
 * only.
 *
 * <p>Not thread-safe (see {@link Module}).
 */
public final class BatchNorm1d extends Module {
    private final long features;
    private final float eps;
    private final Float momentum;
    private final Parameter weight;
    private final Parameter bias;
    private Tensor runningMean;
    private Tensor runningVar;
    private Tensor numBatchesTracked;

    /** PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics. */
    public BatchNorm1d(long features) {
        this(features, BatchNormOps.DEFAULT_EPS, BatchNormOps.DEFAULT_MOMENTUM, true, true);
    }

    /**
     * @param features          the channels C, >= 1
     * @param eps               added to the variance; finite and >= 0
     * @param momentum          the running-statistics update factor in [0, 1], or null for a cumulative average
     * @param affine            whether to learn a scale ({@code weight}) and shift ({@code bias})
     * @param trackRunningStats whether to keep running statistics (the buffers exist only then)
     */
    public BatchNorm1d(long features, float eps, Float momentum, boolean affine, boolean trackRunningStats) {
        requirePositive("features", features);
        requireEps(eps);
        if (momentum != null && !(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException("momentum must be in [0, 1] or null, got " + momentum);
        }
        this.features = features;
        this.eps = eps;
        this.momentum = momentum;
        this.weight = affine ? addParameter("weight", 1f, features) : null;
        this.bias = affine ? addParameter("bias", 0f, features) : null;
        if (trackRunningStats) {
            runningMean = addBuffer("running_mean", Tensor.zeros(features), false);
            runningVar = addBuffer("running_var", Tensor.zeros(features).fill(1f), false);
            numBatchesTracked = addBuffer("num_batches_tracked", Tensor.zeros(DType.INT64, 1), true);
        } else {
            runningMean = null;
            runningVar = null;
            numBatchesTracked = null;
        }
    }

    /** The scale, {@code [C]}, or null when not affine. */
    public Parameter weight() {
        checkOpen();
        return weight;
    }

    /** The shift, {@code [C]}, or null when not affine. */
    public Parameter bias() {
        checkOpen();
        return bias;
    }

    /** The running mean, {@code [C]} (the module's own tensor), or null when not tracking. */
    public Tensor runningMean() {
        checkOpen();
        return runningMean;
    }

    /** The running unbiased variance, {@code [C]} (the module's own tensor), or null when not tracking. */
    public Tensor runningVar() {
        checkOpen();
        return runningVar;
    }

    /** The training batches seen, or 0 when not tracking. */
    public long numBatchesTracked() {
        checkOpen();
        return numBatchesTracked == null ? 0 : numBatchesTracked.getLong(0);
    }

    /** Normalizes {@code input} ({@code [N, C]}) into a new tensor, updating the running statistics in training. */
    @Override
    void moved(Device device) {
        if (runningMean != null) {
            runningMean = buffer("running_mean");
            runningVar = buffer("running_var");
            numBatchesTracked = buffer("num_batches_tracked");
        }
    }

    @Override
    public Tensor forward(Tensor input) {
        checkOpen();
        if (!isTraining()) {
            releaseSaved();
            return runningMean == null
                    ? BatchNormOps.forwardTraining(input, null, null, data(weight), data(bias), eps, 0f)
                    : BatchNormOps.forwardEval(input, runningMean, runningVar, data(weight), data(bias), eps);
        }
        long batches = runningMean == null ? 0 : numBatchesTracked.getLong(0) + 1;
        float m = runningMean == null ? 0f : momentum != null ? momentum : (float) (1.0 / batches);
        Tensor y = keeping(s -> {
            Tensor x = s.keep(copy(input));
            Tensor mean = s.keep(Tensor.zeros(x.device(), features));
            Tensor rstd = s.keep(Tensor.zeros(x.device(), features));
            Tensor out = s.output(Tensor.zeros(x.device(), x.shape()));
            BatchNormOps.forwardTraining(out, mean, rstd, runningMean, runningVar, x, data(weight), data(bias), eps,
                    m);
            return out;
        });
        if (runningMean != null) {
            numBatchesTracked.setLong(batches, 0);
        }
        return y;
    }

    /** The backward pass through the batch statistics; adds into the gradients of the scale and the shift. */
    @Override
    public Tensor backward(Tensor gradOutput) {
        checkOpen();
        try (Saved s = takeSaved(gradOutput)) {
            Tensor x = s.get(0);
            return filled(x, dx -> BatchNormOps.backwardTraining(dx, grad(weight), grad(bias), gradOutput, x,
                    s.get(1), s.get(2), data(weight), true));
        }
    }

    @Override
    String extraRepr() {
        return features + ", eps=" + eps + ", momentum=" + (momentum == null ? "None" : momentum) + ", affine="
                + py(weight != null) + ", track_running_stats=" + py(runningMean != null);
    }

    @Override
    long inFeatures() {
        return features;
    }

    /** Keeps its input and the batch's per-channel mean and rstd. */
    @Override
    long[] summarize(String name, long[] in, List<Summary.Row> rows) {
        requireFeatures(in, 1, features);
        long saved = (numel(in) + 2 * features) * FLOAT_BYTES;
        rows.add(row(name, in, numel(in), saved, saved));
        return in.clone();
    }
}
