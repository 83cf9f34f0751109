package nnfuse;

import java.util.Arrays;
import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Fully connected layer and its backward pass, as PyTorch's {@code torch.nn.functional.linear(x, weight, bias)}:
 * {@code y = x weight^T + bias}, with {@code weight} in PyTorch's {@code [out_features, in_features]} layout.
 * {@code x} has any rank >= 1 and {@code in_features} as its last dimension; the leading dimensions are
 * flattened into rows, and {@code y} has the shape {@code x.shape[:-1] + [out_features]}.
 *
 * <p>Each output element is a float32 dot product summed in one fixed order, ascending along
 * {@code in_features} (with one fused multiply-add per term at the {@link CpuLevel#AVX2} and
 * {@link CpuLevel#AVX512} levels), so at a given level results are bit-identical whatever the thread count and
 * whichever batch a row comes in; they may differ from PyTorch's in the last bits, as any two BLAS libraries
 * do. The weight is packed for the product on every call; {@link PackedWeight} packs it once per update.
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the tensors passed in.
 */
public final class LinearOps {
    private LinearOps() {}

    /**
     * Computes {@code x weight^T + bias} into a new tensor.
     *
     * @param x      input, any rank >= 1, last dimension {@code in_features}
     * @param weight shape {@code [out_features, in_features]}
     * @param bias   shape {@code [out_features]}, or null for none
     */
    public static Tensor forward(Tensor x, Tensor weight, Tensor bias) {
        Tensor y = Outputs.zeros(x, Shape.of("linear", x, weight, bias).output());
        return Outputs.fill(y, out -> forward(out, x, weight, bias));
    }

    /**
     * Computes {@code x weight^T + bias} into {@code y}, which must be a tensor of its own (not {@code x},
     * {@code weight} or {@code bias}).
     *
     * @param y output, shape {@code x.shape[:-1] + [out_features]}
     */
    public static void forward(Tensor y, Tensor x, Tensor weight, Tensor bias) {
        final String op = "linear";
        Shape s = Shape.of(op, x, weight, bias);
        Checks.tensor(op, "y", y);
        Checks.shape(op, "y", y, s.output(), "x.shape[:-1] + [out_features]");
        Device device = Checks.distinctOnOneDevice(op, 1, List.of("y", "x", "weight", "bias"), y, x, weight, bias);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_linear_fwd_f32(y.address(), x.address(), weight.address(),
                    Tensor.segmentOrNull(bias), s.rows(), s.in(), s.out(), device.index()));
        } else {
            Status.check(nnfuse_h.nf_linear_fwd_f32(y.address(), x.address(), weight.address(),
                    Tensor.segmentOrNull(bias), s.rows(), s.in(), s.out()));
        }
    }

    /**
     * Computes {@code x weight^T + bias} into a new tensor, with the weight packed once by
     * {@link PackedWeight}: the same result, bit for bit, as with the weight itself, without packing it again.
     *
     * @param x      input, any rank >= 1, last dimension {@code in_features}
     * @param weight the packed {@code [out_features, in_features]} weight
     * @param bias   shape {@code [out_features]}, or null for none
     */
    public static Tensor forward(Tensor x, PackedWeight weight, Tensor bias) {
        Tensor y = Outputs.zeros(x, Shape.of("linear", x, weight, bias).output());
        return Outputs.fill(y, out -> forward(out, x, weight, bias));
    }

    /**
     * Computes {@code x weight^T + bias} into {@code y} with a packed weight (see
     * {@link #forward(Tensor, PackedWeight, Tensor)}); {@code y} must be a tensor of its own.
     *
     * @param y output, shape {@code x.shape[:-1] + [out_features]}
     */
    public static void forward(Tensor y, Tensor x, PackedWeight weight, Tensor bias) {
        final String op = "linear";
        Shape s = Shape.of(op, x, weight, bias);
        Checks.tensor(op, "y", y);
        Checks.shape(op, "y", y, s.output(), "x.shape[:-1] + [out_features]");
        Tensor packed = weight.tensor(op);
        Checks.distinctOnOneDevice(op, 1, List.of("y", "x", "weight", "bias"), y, x, packed, bias);
        NativeLibrary.ensureLoaded();
        Status.check(nnfuse_h.nf_linear_packed_fwd_f32(y.segment(), x.segment(), packed.segment(),
                Tensor.segmentOrNull(bias), s.rows(), s.in(), s.out()));
    }

    /**
     * The backward pass of {@link #forward}: given {@code dy}, the gradient of a loss with respect to
     * {@code y = x weight^T + bias}, computes the gradients PyTorch's autograd computes for {@code F.linear}:
     * {@code dx = dy weight}, {@code dweight = dy^T x} and {@code dbias = dy} summed over the rows (with the
     * leading dimensions of {@code x} flattened into rows). Each gradient may be null when it is not needed,
     * e.g. {@code dx} of the first layer. {@code dx} is always overwritten, being an activation's gradient;
     * {@code dweight} and {@code dbias} are overwritten, or with {@code accumulate} incremented by the new
     * gradient (one float addition per element), as PyTorch accumulates into {@code .grad}. Every gradient
     * must be a tensor of its own (not another argument).
     *
     * <p>Each element of {@code dx} and {@code dweight} is a float32 sum in ascending order of its reduction
     * index ({@code out_features} for {@code dx}, the rows for {@code dweight}) and {@code dbias} a double sum
     * rounded once, so results are bit-identical whatever the thread count.
     *
     * @param dx         receives the gradient of {@code x}, same shape as {@code x}; or null
     * @param dweight    receives the gradient of {@code weight}, same shape as {@code weight}; or null
     * @param dbias      receives the gradient of the bias, shape {@code [out_features]}; or null
     * @param dy         gradient of the output, shape {@code x.shape[:-1] + [out_features]}
     * @param x          the forward's input
     * @param weight     the forward's weight, shape {@code [out_features, in_features]}
     * @param accumulate whether to add to {@code dweight} and {@code dbias} rather than overwrite them
     */
    public static void backward(Tensor dx, Tensor dweight, Tensor dbias, Tensor dy, Tensor x, Tensor weight,
            boolean accumulate) {
        final String op = "linearBackward";
        Shape s = Shape.of(op, x, weight, null);
        s.checkGradients(op, dx, dweight, dbias, dy, weight);
        Device device = Checks.distinctOnOneDevice(op, 3, List.of("dx", "dweight", "dbias", "dy", "x", "weight"), dx,
                dweight, dbias, dy, x, weight);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_linear_bwd_f32(Tensor.segmentOrNull(dx), Tensor.segmentOrNull(dweight),
                    Tensor.segmentOrNull(dbias), dy.address(), x.address(), weight.address(), s.rows(), s.in(),
                    s.out(), accumulate ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_linear_bwd_f32(Tensor.segmentOrNull(dx), Tensor.segmentOrNull(dweight),
                    Tensor.segmentOrNull(dbias), dy.address(), x.address(), weight.address(), s.rows(), s.in(),
                    s.out(), accumulate ? 1 : 0));
        }
    }

    /**
     * The sizes of {@code x weight^T + bias}, for this op and the fused ones built on it.
     *
     * @param rows   product of the leading dimensions of x
     * @param xShape the shape of x, whose last dimension becomes {@code out} in the output
     */
    record Shape(long rows, long in, long out, long[] xShape) {
        /** Checks x, weight and bias (every message names the op, the argument and the shapes). */
        static Shape of(String op, Tensor x, Tensor weight, Tensor bias) {
            Checks.tensor(op, "x", x);
            Checks.tensor(op, "weight", weight);
            Checks.optional(op, "bias", bias);
            Checks.rank(op, "weight", weight, 2, "[out_features, in_features]");
            return of(op, x, weight.size(1), weight.size(0), Arrays.toString(weight.shape()), weight.describe(), bias);
        }

        /** As {@link #of(String, Tensor, Tensor, Tensor)} for a packed weight. */
        static Shape of(String op, Tensor x, PackedWeight weight, Tensor bias) {
            Checks.tensor(op, "x", x);
            Checks.notNull(op, "weight", weight).tensor(op);
            Checks.optional(op, "bias", bias);
            return of(op, x, weight.inFeatures(), weight.outFeatures(), weight.describe(), weight.describe(), bias);
        }

        private static Shape of(String op, Tensor x, long weightIn, long out, String weightShape,
                String weightDescription, Tensor bias) {
            long in = x.size(-1);
            if (weightIn != in) {
                throw new IllegalArgumentException(op + ": weight must have shape [out_features, " + in
                        + "] (in_features = the last dimension of x " + x.describe() + "), got " + weightShape);
            }
            Checks.shape(op, "bias", bias, new long[] {out},
                    "out_features = the first dimension of weight " + weightDescription);
            return new Shape(x.numel() / in, in, out, x.shape());
        }

        /**
         * Checks the gradients of a backward pass against these sizes: {@code dy} (required) has the output's
         * shape, and {@code dx}, {@code dweight} and {@code dbias} (each optional) those of x, weight and bias.
         */
        void checkGradients(String op, Tensor dx, Tensor dweight, Tensor dbias, Tensor dy, Tensor weight) {
            Checks.tensor(op, "dy", dy);
            Checks.optional(op, "dx", dx);
            Checks.optional(op, "dweight", dweight);
            Checks.optional(op, "dbias", dbias);
            Checks.shape(op, "dy", dy, output(), "x.shape[:-1] + [out_features]");
            Checks.shape(op, "dx", dx, xShape, "the shape of x");
            Checks.shape(op, "dweight", dweight, weight.shape(), "the shape of weight");
            Checks.shape(op, "dbias", dbias, new long[] {out},
                    "out_features = the first dimension of weight " + weight.describe());
        }

        /** {@code x.shape[:-1] + [out]}. */
        long[] output() {
            long[] shape = xShape.clone();
            shape[shape.length - 1] = out;
            return shape;
        }
    }
}
