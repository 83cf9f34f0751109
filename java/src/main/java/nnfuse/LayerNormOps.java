package nnfuse;

import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Layer normalization over the last dimension and its backward pass, as PyTorch's
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
        Tensor y = Tensor.zeros(x.device(), x.shape());
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
        Device device = Checks.device(op, List.of("y", "mean", "rstd", "x", "gamma", "beta"), y, mean, rstd, x, gamma,
                beta);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_layernorm_fwd_f32(y.address(), Tensor.segmentOrNull(mean),
                    Tensor.segmentOrNull(rstd), x.address(), Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta),
                    rows, cols, eps, device.index()));
        } else {
            Status.check(nnfuse_h.nf_layernorm_fwd_f32(
                    y.segment(), Tensor.segmentOrNull(mean), Tensor.segmentOrNull(rstd), x.segment(),
                    Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), rows, cols, eps));
        }
    }

    /**
     * The backward pass of {@link #forward}, as PyTorch's {@code native_layer_norm_backward}: given {@code dy},
     * the gradient of a loss with respect to {@code y}, and the forward's saved {@code mean} and {@code rstd},
     * computes, with {@code xhat = (x - mean) * rstd}, {@code g = dy * gamma} and the means taken over the last
     * dimension,
     * <pre>
     *   dx     = rstd * (g - mean(g) - xhat * mean(g * xhat))
     *   dgamma = sum over the rows of dy * xhat
     *   dbeta  = sum over the rows of dy
     * </pre>
     * {@code xhat} is the forward's bit for bit: each row is summed again in double as the forward sums it,
     * to recover the part of the mean that rounding it to float dropped, so a large mean costs no accuracy.
     * Means and column sums are accumulated in double in a fixed order, so results are bit-identical whatever
     * the thread count.
     *
     * <p>Each gradient may be null when it is not needed. {@code dx} is always overwritten; {@code dgamma} and
     * {@code dbeta} are overwritten, or with {@code accumulate} incremented by the new gradient (one float
     * addition per element), as PyTorch accumulates into {@code .grad}. Every gradient must be a tensor of its
     * own (not another argument).
     *
     * @param dx         receives the gradient of {@code x}, same shape as {@code x}; or null
     * @param dgamma     receives the gradient of {@code gamma}, shape {@code [x.size(-1)]}; or null
     * @param dbeta      receives the gradient of {@code beta}, shape {@code [x.size(-1)]}; or null
     * @param dy         gradient of the output, same shape as {@code x}
     * @param x          the forward's input
     * @param mean       the forward's per-row means, shape {@code [rows]}
     * @param rstd       the forward's per-row {@code 1 / sqrt(var + eps)}, shape {@code [rows]}
     * @param gamma      the forward's scale, shape {@code [x.size(-1)]}, or null for none
     * @param accumulate whether to add to {@code dgamma} and {@code dbeta} rather than overwrite them
     */
    public static void backward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor mean,
            Tensor rstd, Tensor gamma, boolean accumulate) {
        final String op = "layerNormBackward";
        Checks.tensor(op, "x", x);
        Checks.tensor(op, "dy", dy);
        Checks.tensor(op, "mean", mean);
        Checks.tensor(op, "rstd", rstd);
        Checks.optional(op, "gamma", gamma);
        Checks.optional(op, "dx", dx);
        Checks.optional(op, "dgamma", dgamma);
        Checks.optional(op, "dbeta", dbeta);
        long cols = x.size(-1);
        long rows = x.numel() / cols;
        long[] features = {cols};
        String lastDim = "the last dimension of x " + x.describe();
        String perRow = "one per row of x " + x.describe();
        Checks.shape(op, "dy", dy, x.shape(), "the shape of x");
        Checks.shape(op, "mean", mean, new long[] {rows}, perRow);
        Checks.shape(op, "rstd", rstd, new long[] {rows}, perRow);
        Checks.shape(op, "gamma", gamma, features, lastDim);
        Checks.shape(op, "dx", dx, x.shape(), "the shape of x");
        Checks.shape(op, "dgamma", dgamma, features, lastDim);
        Checks.shape(op, "dbeta", dbeta, features, lastDim);
        Device device = Checks.distinctOnOneDevice(op, 3,
                List.of("dx", "dgamma", "dbeta", "dy", "x", "mean", "rstd", "gamma"), dx, dgamma, dbeta, dy, x, mean,
                rstd, gamma);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_layernorm_bwd_f32(Tensor.segmentOrNull(dx), Tensor.segmentOrNull(dgamma),
                    Tensor.segmentOrNull(dbeta), dy.address(), x.address(), mean.address(), rstd.address(),
                    Tensor.segmentOrNull(gamma), rows, cols, accumulate ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_layernorm_bwd_f32(Tensor.segmentOrNull(dx), Tensor.segmentOrNull(dgamma),
                    Tensor.segmentOrNull(dbeta), dy.segment(), x.segment(), mean.segment(), rstd.segment(),
                    Tensor.segmentOrNull(gamma), rows, cols, accumulate ? 1 : 0));
        }
    }
}
