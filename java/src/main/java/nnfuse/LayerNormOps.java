package nnfuse;

import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Layer normalization over the last dimension, as PyTorch's
 * {@code torch.nn.functional.layer_norm(x, (x.size(-1),), weight, bias, eps)}:
 * {@code y = (x - mean) / sqrt(var + eps) * gamma + beta}, with the mean and the
 * biased variance of each row (each slice along the last dimension).
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the
 * tensors passed in.
 */
public final class LayerNormOps {
    /** PyTorch's default epsilon for {@code nn.LayerNorm}. */
    public static final float DEFAULT_EPS = 1e-5f;

    private LayerNormOps() {}

    /**
     * Normalizes {@code x} into a new tensor of the same shape.
     *
     * @param x     input, any rank >= 1; rows are all dimensions but the last
     * @param gamma scale of shape {@code [x.size(-1)]}, or null for none
     * @param beta  shift of shape {@code [x.size(-1)]}, or null for none
     * @param eps   added to the variance; finite and >= 0
     */
    public static Tensor forward(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Checks.tensor("layerNorm", "x", x);
        Tensor y = Tensor.zeros(x.shape());
        try {
            forward(y, null, null, x, gamma, beta, eps);
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
        return y;
    }

    /**
     * Normalizes {@code x} into {@code y}, and stores each row's mean and
     * {@code rstd = 1 / sqrt(var + eps)} for the backward pass. {@code y} may be
     * {@code x} itself (in place).
     *
     * @param y    output, same shape as {@code x}
     * @param mean per-row means, shape {@code [rows]}, or null
     * @param rstd per-row reciprocal standard deviations, shape {@code [rows]}, or null
     */
    public static void forward(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor gamma, Tensor beta, float eps) {
        final String op = "layerNorm";
        Checks.tensor(op, "x", x);
        Checks.tensor(op, "y", y);
        Checks.optional(op, "mean", mean);
        Checks.optional(op, "rstd", rstd);
        Checks.optional(op, "gamma", gamma);
        Checks.optional(op, "beta", beta);
        long cols = x.size(-1);
        long rows = x.numel() / cols;
        String lastDim = "the last dimension of x " + x.describe();
        Checks.shape(op, "y", y, x.shape(), "the shape of x");
        Checks.shape(op, "gamma", gamma, new long[] {cols}, lastDim);
        Checks.shape(op, "beta", beta, new long[] {cols}, lastDim);
        Checks.shape(op, "mean", mean, new long[] {rows}, "one per row of x " + x.describe());
        Checks.shape(op, "rstd", rstd, new long[] {rows}, "one per row of x " + x.describe());
        Checks.nonNegative(op, "eps", eps);
        NativeLibrary.ensureLoaded();
        Status.check(nnfuse_h.nf_layernorm_fwd_f32(
                y.segment(), Tensor.segmentOrNull(mean), Tensor.segmentOrNull(rstd), x.segment(),
                Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), rows, cols, eps));
    }
}
