package nnfuse;

import java.util.Arrays;
import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Fully connected layer, as PyTorch's {@code torch.nn.functional.linear(x, weight, bias)}:
 * {@code y = x weight^T + bias}, with {@code weight} in PyTorch's {@code [out_features, in_features]} layout.
 * {@code x} has any rank >= 1 and {@code in_features} as its last dimension; the leading dimensions are
 * flattened into rows, and {@code y} has the shape {@code x.shape[:-1] + [out_features]}.
 *
 * <p>Each output element is a float32 dot product summed in one fixed order that depends on
 * {@code in_features} alone, so results are bit-identical whatever the thread count and whichever batch a
 * row comes in; they may differ from PyTorch's in the last bits, as any two BLAS libraries do.
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
        Tensor y = Tensor.zeros(Shape.of("linear", x, weight, bias).output());
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
        Checks.distinct(op, 1, List.of("y", "x", "weight", "bias"), y, x, weight, bias);
        NativeLibrary.ensureLoaded();
        Status.check(nnfuse_h.nf_linear_fwd_f32(y.segment(), x.segment(), weight.segment(),
                Tensor.segmentOrNull(bias), s.rows(), s.in(), s.out()));
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
            long in = x.size(-1);
            if (weight.size(1) != in) {
                throw new IllegalArgumentException(op + ": weight must have shape [out_features, " + in
                        + "] (in_features = the last dimension of x " + x.describe() + "), got "
                        + Arrays.toString(weight.shape()));
            }
            long out = weight.size(0);
            Checks.shape(op, "bias", bias, new long[] {out},
                    "out_features = the first dimension of weight " + weight.describe());
            return new Shape(x.numel() / in, in, out, x.shape());
        }

        /** {@code x.shape[:-1] + [out]}. */
        long[] output() {
            long[] shape = xShape.clone();
            shape[shape.length - 1] = out;
            return shape;
        }
    }
}
