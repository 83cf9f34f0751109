package nnfuse.nn;

import java.util.List;
import nnfuse.LayerNormOps;
import nnfuse.Tensor;

/**
 * Layer normalization over the last dimension, as PyTorch's
 * {@code nn.LayerNorm(features, eps, elementwise_affine, bias)}; see
 * {@link LayerNormOps}. The scale {@code weight} starts at 1 and the shift
 * {@code bias} at 0, as in PyTorch.
 *
 * <p>In training mode a forward keeps a copy of its input and each row's mean
 * and rstd ({@code 1 / sqrt(var + eps)}), what {@link LayerNormOps#backward}
 * needs.
 *
 * <p>Not thread-safe (see {@link Module}).
 */
public final class LayerNorm extends Module {
    private final long features;
    private final float eps;
    private final Parameter weight;
    private final Parameter bias;

    /** PyTorch's defaults: eps 1e-5, a learned scale and shift. */
    public LayerNorm(long features) {
        this(features, LayerNormOps.DEFAULT_EPS, true, true);
    }

    /**
     * @param features          the size of the last dimension, >= 1
     * @param eps               added to the variance; finite and >= 0
     * @param elementwiseAffine whether to learn a scale ({@code weight}) and, with {@code bias}, a shift
     * @param bias              whether to learn a shift (only with {@code elementwiseAffine})
     */
    public LayerNorm(long features, float eps, boolean elementwiseAffine, boolean bias) {
        requirePositive("features", features);
        requireEps(eps);
        this.features = features;
        this.eps = eps;
        this.weight = elementwiseAffine ? addParameter("weight", 1f, features) : null;
        this.bias = elementwiseAffine && bias ? addParameter("bias", 0f, features) : null;
    }

    /** The scale, {@code [features]}, or null without elementwise affine. */
    public Parameter weight() {
        checkOpen();
        return weight;
    }

    /** The shift, {@code [features]}, or null. */
    public Parameter bias() {
        checkOpen();
        return bias;
    }

    /** Normalizes each row (slice along the last dimension) of {@code input}. */
    @Override
    public Tensor forward(Tensor input) {
        checkOpen();
        if (!isTraining()) {
            releaseSaved();
            return LayerNormOps.forward(input, data(weight), data(bias), eps);
        }
        return keeping(s -> {
            Tensor x = s.keep(copy(input));
            long rows = x.numel() / x.size(-1);
            Tensor mean = s.keep(Tensor.zeros(x.device(), rows));
            Tensor rstd = s.keep(Tensor.zeros(x.device(), rows));
            Tensor y = s.output(Tensor.zeros(x.device(), x.shape()));
            LayerNormOps.forward(y, mean, rstd, x, data(weight), data(bias), eps);
            return y;
        });
    }

    /** The LayerNorm backward pass; adds into the gradients of the scale and the shift. */
    @Override
    public Tensor backward(Tensor gradOutput) {
        checkOpen();
        try (Saved s = takeSaved(gradOutput)) {
            Tensor x = s.get(0);
            return filled(x, dx -> LayerNormOps.backward(dx, grad(weight), grad(bias), gradOutput, x,
                    s.get(1), s.get(2), data(weight), true));
        }
    }

    @Override
    String extraRepr() {
        return "(" + features + ",), eps=" + eps + ", elementwise_affine=" + py(weight != null);
    }

    @Override
    long inFeatures() {
        return features;
    }

    /** Keeps its input and each row's mean and rstd. */
    @Override
    long[] summarize(String name, long[] in, List<Summary.Row> rows) {
        requireFeatures(in, in.length - 1, features);
        long saved = (numel(in) + 2 * (numel(in) / features)) * FLOAT_BYTES;
        rows.add(row(name, in, numel(in), saved, saved));
        return in.clone();
    }
}
