package nnfuse;

import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Rectified linear unit, as PyTorch's {@code torch.relu(x)}: {@code y = max(x, 0)} element-wise. A NaN stays
 * NaN, as in PyTorch; {@code -0.0} becomes {@code +0.0}. Exact: no rounding happens.
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the tensors passed in.
 */
public final class ReluOps {
    private ReluOps() {}

    /** Rectifies {@code x} (any shape) into a new tensor of the same shape. */
    public static Tensor forward(Tensor x) {
        Checks.tensor("relu", "x", x);
        return Outputs.fill(Tensor.zeros(x.shape()), y -> forward(y, x));
    }

    /**
     * Rectifies {@code x} into {@code y}, which may be {@code x} itself (in place, as
     * {@code torch.relu_(x)}).
     *
     * @param y output, same shape as {@code x}
     */
    public static void forward(Tensor y, Tensor x) {
        final String op = "relu";
        Checks.tensor(op, "x", x);
        Checks.tensor(op, "y", y);
        Checks.shape(op, "y", y, x.shape(), "the shape of x");
        NativeLibrary.ensureLoaded();
        Status.check(nnfuse_h.nf_relu_fwd_f32(y.segment(), x.segment(), x.numel()));
    }
}
