package nnfuse;

import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * The hidden block of an MLP in one call: Linear, then LayerNorm over the {@code out_features}, then
 * (optionally) ReLU, as PyTorch's
 * {@code torch.relu(F.layer_norm(F.linear(x, weight, bias), (out_features,), gamma, beta, eps))}, i.e.
 * {@code nn.Sequential(nn.Linear(in, out), nn.LayerNorm(out), nn.ReLU())}. The last block of a model, which
 * feeds the logits without a ReLU, passes {@code relu = false}.
 *
 * <p>Each block of rows is normalized right after its product is computed, while it is still in cache.
 * The product is exactly {@link LinearOps}'s and the normalization exactly {@link LayerNormOps}'s (the same
 * native routines), so the result is bit-identical to the unfused chain and to any thread count. A
 * {@link PackedWeight} saves packing the weight on every call.
 *
 * <p>For training, the op keeps only what the backward pass needs: the product {@code h = x weight^T + bias}
 * before normalization and the per-row {@code mean} and {@code rstd}; {@code xhat = (h - mean) * rstd}
 * recomputes the normalized and rectified activations, so they are never stored (see {@link #savedBytes}).
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the tensors passed in.
 */
public final class LinearLnReluOps {
    private static final String OP = "linearLnRelu";

    private LinearLnReluOps() {}

    /**
     * Computes {@code relu(layerNorm(x weight^T + bias))} into a new tensor, for inference.
     *
     * @param x      input, any rank >= 1, last dimension {@code in_features}
     * @param weight shape {@code [out_features, in_features]}
     * @param bias   shape {@code [out_features]}, or null for none
     * @param gamma  LayerNorm scale, shape {@code [out_features]}, or null for none
     * @param beta   LayerNorm shift, shape {@code [out_features]}, or null for none
     * @param eps    added to the variance; finite and >= 0 ({@link LayerNormOps#DEFAULT_EPS} is PyTorch's)
     * @param relu   whether to apply the ReLU (false for a last block)
     * @return a tensor of shape {@code x.shape[:-1] + [out_features]}
     */
    public static Tensor forward(Tensor x, Tensor weight, Tensor bias, Tensor gamma, Tensor beta, float eps,
            boolean relu) {
        return Outputs.fill(Outputs.zeros(x, LinearOps.Shape.of(OP, x, weight, bias).output()),
                y -> forward(y, null, null, null, x, weight, bias, gamma, beta, eps, relu));
    }

    /**
     * Computes {@code relu(layerNorm(x weight^T + bias))} into {@code y} and keeps what the backward pass
     * needs. Every output must be a tensor of its own (not another argument).
     *
     * @param y    output, shape {@code x.shape[:-1] + [out_features]}
     * @param h    receives {@code x weight^T + bias} before normalization, same shape as {@code y}; or null
     * @param mean receives each row's mean of {@code h}, shape {@code [rows]}; or null
     * @param rstd receives each row's {@code 1 / sqrt(var + eps)} of {@code h}, shape {@code [rows]}; or null
     */
    public static void forward(Tensor y, Tensor h, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias,
            Tensor gamma, Tensor beta, float eps, boolean relu) {
        LinearOps.Shape s = LinearOps.Shape.of(OP, x, weight, bias);
        Device device = checkForward(s, y, h, mean, rstd, x, weight, weight.describe(), bias, gamma, beta, eps);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_linear_ln_relu_fwd_f32(y.address(), Tensor.segmentOrNull(h),
                    Tensor.segmentOrNull(mean), Tensor.segmentOrNull(rstd), x.address(), weight.address(),
                    Tensor.segmentOrNull(bias), Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), s.rows(),
                    s.in(), s.out(), eps, relu ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_linear_ln_relu_fwd_f32(y.address(), Tensor.segmentOrNull(h),
                    Tensor.segmentOrNull(mean), Tensor.segmentOrNull(rstd), x.address(), weight.address(),
                    Tensor.segmentOrNull(bias), Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), s.rows(),
                    s.in(), s.out(), eps, relu ? 1 : 0));
        }
    }

    /**
     * Computes {@code relu(layerNorm(x weight^T + bias))} into a new tensor with the weight packed once by
     * {@link PackedWeight}: the same result, bit for bit, as with the weight itself, without packing it again.
     *
     * @param x      input, any rank >= 1, last dimension {@code in_features}
     * @param weight the packed {@code [out_features, in_features]} weight
     * @param bias   shape {@code [out_features]}, or null for none
     * @param gamma  LayerNorm scale, shape {@code [out_features]}, or null for none
     * @param beta   LayerNorm shift, shape {@code [out_features]}, or null for none
     * @param eps    added to the variance; finite and >= 0
     * @param relu   whether to apply the ReLU
     * @return a tensor of shape {@code x.shape[:-1] + [out_features]}
     */
    public static Tensor forward(Tensor x, PackedWeight weight, Tensor bias, Tensor gamma, Tensor beta, float eps,
            boolean relu) {
        return Outputs.fill(Outputs.zeros(x, LinearOps.Shape.of(OP, x, weight, bias).output()),
                y -> forward(y, null, null, null, x, weight, bias, gamma, beta, eps, relu));
    }

    /**
     * {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, float, boolean)}
     * with a packed weight: the same results, bit for bit.
     */
    public static void forward(Tensor y, Tensor h, Tensor mean, Tensor rstd, Tensor x, PackedWeight weight,
            Tensor bias, Tensor gamma, Tensor beta, float eps, boolean relu) {
        LinearOps.Shape s = LinearOps.Shape.of(OP, x, weight, bias);
        Tensor packed = weight.tensor(OP);
        checkForward(s, y, h, mean, rstd, x, packed, weight.describe(), bias, gamma, beta, eps);
        NativeLibrary.ensureLoaded();
        Status.check(nnfuse_h.nf_linear_ln_relu_packed_fwd_f32(y.segment(), Tensor.segmentOrNull(h),
                Tensor.segmentOrNull(mean), Tensor.segmentOrNull(rstd), x.segment(), packed.segment(),
                Tensor.segmentOrNull(bias), Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), s.rows(),
                s.in(), s.out(), eps, relu ? 1 : 0));
    }

    /**
     * The checks of both writing forms; {@code weight} is the tensor passed down (the packed one, or the weight).
     * Returns the device of the tensors, which must all be on one.
     */
    private static Device checkForward(LinearOps.Shape s, Tensor y, Tensor h, Tensor mean, Tensor rstd, Tensor x,
            Tensor weight, String weightDescription, Tensor bias, Tensor gamma, Tensor beta, float eps) {
        Checks.tensor(OP, "y", y);
        Checks.optional(OP, "h", h);
        Checks.optional(OP, "mean", mean);
        Checks.optional(OP, "rstd", rstd);
        Checks.optional(OP, "gamma", gamma);
        Checks.optional(OP, "beta", beta);
        long[] output = s.output();
        long[] features = {s.out()};
        long[] perRow = {s.rows()};
        String outFeatures = "out_features = the first dimension of weight " + weightDescription;
        String rows = "one per row of x " + x.describe();
        Checks.shape(OP, "y", y, output, "x.shape[:-1] + [out_features]");
        Checks.shape(OP, "h", h, output, "the shape of y");
        Checks.shape(OP, "mean", mean, perRow, rows);
        Checks.shape(OP, "rstd", rstd, perRow, rows);
        Checks.shape(OP, "gamma", gamma, features, outFeatures);
        Checks.shape(OP, "beta", beta, features, outFeatures);
        Checks.nonNegative(OP, "eps", eps);
        List<String> names = List.of("y", "h", "mean", "rstd", "x", "weight", "bias", "gamma", "beta");
        return Checks.distinctOnOneDevice(OP, 4, names, y, h, mean, rstd, x, weight, bias, gamma, beta);
    }

    /**
     * The backward pass of {@link #forward} from what it kept, without running its product again:
     * {@code xhat = (h - mean) * rstd} and the ReLU mask ({@code xhat * gamma + beta > 0}) are recomputed bit
     * for bit as the forward computed them, and then the steps are those of the unfused ops:
     * {@link ReluOps#backward(Tensor, Tensor, Tensor)} on {@code dy}, {@link LayerNormOps#backward} giving
     * {@code dh}, the gradient of {@code h}, and {@link LinearOps#backward} on {@code dh}, so every gradient is
     * bit-identical to that chain's and to any thread count. {@code dh} lives in native scratch memory of
     * {@code h}'s size for the duration of the call.
     *
     * <p>Each gradient may be null when it is not needed, e.g. {@code dx} of the first block. {@code dx} is
     * always overwritten; the parameter gradients are overwritten, or with {@code accumulate} incremented by
     * the new gradient (one float addition per element), as PyTorch accumulates into {@code .grad}. Every
     * gradient must be a tensor of its own (not another argument).
     *
     * @param dx         receives the gradient of {@code x}, same shape as {@code x}; or null
     * @param dweight    receives the gradient of {@code weight}, same shape as {@code weight}; or null
     * @param dbias      receives the gradient of the bias, shape {@code [out_features]}; or null
     * @param dgamma     receives the gradient of {@code gamma}, shape {@code [out_features]}; or null
     * @param dbeta      receives the gradient of {@code beta}, shape {@code [out_features]}; or null
     * @param dy         gradient of the output {@code y}, shape {@code x.shape[:-1] + [out_features]}
     * @param x          the forward's input
     * @param weight     the forward's weight, shape {@code [out_features, in_features]}
     * @param h          the forward's {@code x weight^T + bias}, same shape as {@code dy}
     * @param mean       the forward's per-row means of {@code h}, shape {@code [rows]}
     * @param rstd       the forward's per-row {@code 1 / sqrt(var + eps)} of {@code h}, shape {@code [rows]}
     * @param gamma      the forward's LayerNorm scale, shape {@code [out_features]}, or null for none
     * @param beta       the forward's LayerNorm shift, shape {@code [out_features]}, or null for none
     * @param relu       whether the forward applied the ReLU
     * @param accumulate whether to add to the parameter gradients rather than overwrite them
     */
    public static void backward(Tensor dx, Tensor dweight, Tensor dbias, Tensor dgamma, Tensor dbeta, Tensor dy,
            Tensor x, Tensor weight, Tensor h, Tensor mean, Tensor rstd, Tensor gamma, Tensor beta, boolean relu,
            boolean accumulate) {
        final String op = OP + "Backward";
        LinearOps.Shape s = LinearOps.Shape.of(op, x, weight, null);
        s.checkGradients(op, dx, dweight, dbias, dy, weight);
        Checks.tensor(op, "h", h);
        Checks.tensor(op, "mean", mean);
        Checks.tensor(op, "rstd", rstd);
        Checks.optional(op, "gamma", gamma);
        Checks.optional(op, "beta", beta);
        Checks.optional(op, "dgamma", dgamma);
        Checks.optional(op, "dbeta", dbeta);
        long[] features = {s.out()};
        long[] perRow = {s.rows()};
        String outFeatures = "out_features = the first dimension of weight " + weight.describe();
        String rows = "one per row of x " + x.describe();
        Checks.shape(op, "h", h, s.output(), "the shape of dy");
        Checks.shape(op, "mean", mean, perRow, rows);
        Checks.shape(op, "rstd", rstd, perRow, rows);
        Checks.shape(op, "gamma", gamma, features, outFeatures);
        Checks.shape(op, "beta", beta, features, outFeatures);
        Checks.shape(op, "dgamma", dgamma, features, outFeatures);
        Checks.shape(op, "dbeta", dbeta, features, outFeatures);
        Device device = Checks.distinctOnOneDevice(op, 5, List.of("dx", "dweight", "dbias", "dgamma", "dbeta", "dy",
                "x", "weight", "h", "mean", "rstd", "gamma", "beta"), dx, dweight, dbias, dgamma, dbeta, dy, x, weight, h,
                mean, rstd, gamma, beta);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_linear_ln_relu_bwd_f32(Tensor.segmentOrNull(dx),
                    Tensor.segmentOrNull(dweight), Tensor.segmentOrNull(dbias), Tensor.segmentOrNull(dgamma),
                    Tensor.segmentOrNull(dbeta), dy.address(), x.address(), weight.address(), h.address(),
                    mean.address(), rstd.address(), Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), s.rows(),
                    s.in(), s.out(), relu ? 1 : 0, accumulate ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_linear_ln_relu_bwd_f32(Tensor.segmentOrNull(dx), Tensor.segmentOrNull(dweight),
                    Tensor.segmentOrNull(dbias), Tensor.segmentOrNull(dgamma), Tensor.segmentOrNull(dbeta),
                    dy.address(), x.address(), weight.address(), h.address(), mean.address(), rstd.address(),
                    Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), s.rows(), s.in(), s.out(), relu ? 1 : 0,
                    accumulate ? 1 : 0));
        }
    }

    /**
     * The bytes this op keeps for the backward pass of {@code rows} rows: {@code h} ({@code rows *
     * outFeatures} floats) plus {@code mean} and {@code rstd} ({@code rows} floats each), 4 bytes a float.
     * The unfused Linear, LayerNorm and ReLU keep their three {@code [rows, outFeatures]} outputs (the count
     * of the worksheet, Discussion 04, 1(c)); the fused block keeps one, since {@code xhat = (h - mean) *
     * rstd} recomputes the others.
     *
     * @param rows        rows of x (the product of its leading dimensions); >= 1
     * @param outFeatures features of the output; >= 1
     * @throws IllegalArgumentException for a size below 1, or a byte count beyond {@code long}
     */
    public static long savedBytes(long rows, long outFeatures) {
        if (rows < 1 || outFeatures < 1) {
            throw new IllegalArgumentException(OP + ": rows and outFeatures must be >= 1, got rows " + rows
                    + ", outFeatures " + outFeatures);
        }
        try {
            long floats = Math.addExact(Math.multiplyExact(rows, outFeatures), Math.multiplyExact(2, rows));
            return Math.multiplyExact(floats, (long) Float.BYTES);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(OP + ": " + rows + " rows of " + outFeatures
                    + " features need more bytes than a long holds", e);
        }
    }
}
