package nnfuse;

import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Rectified linear unit, as PyTorch's {@code torch.relu(x)}: {@code y = max(x, 0)} element-wise. A NaN stays
 * NaN, as in PyTorch; {@code -0.0} becomes {@code +0.0}. Exact: no rounding happens, forward or backward.
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the tensors passed in.
 */
public final class ReluOps {
    private ReluOps() {}

    /** Rectifies {@code x} (any shape) into a new tensor of the same shape. */
    public static Tensor forward(Tensor x) {
        Checks.tensor("relu", "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), x.shape()), y -> forward(y, x));
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
        Device device = Checks.device(op, List.of("y", "x"), y, x);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_relu_fwd_f32(y.address(), x.address(), x.numel(), device.index()));
        } else {
            Status.check(nnfuse_h.nf_relu_fwd_f32(y.address(), x.address(), x.numel()));
        }
    }

    /**
     * The backward pass of {@link #forward} into a new tensor: {@code dx = dy} where {@code y > 0}, else 0.
     *
     * @param dy gradient of the output, same shape as {@code y}
     * @param y  the forward's output
     */
    public static Tensor backward(Tensor dy, Tensor y) {
        Checks.tensor("reluBackward", "y", y);
        return Outputs.fill(Tensor.zeros(y.device(), y.shape()), dx -> backward(dx, dy, y));
    }

    /**
     * The backward pass of {@link #forward} from its output, as PyTorch's {@code threshold_backward(dy, y, 0)}:
     * {@code dx = 0} where {@code y <= 0}, else {@code dy}; a NaN {@code y} (not {@code <= 0}) passes
     * {@code dy} on, as in PyTorch. {@code dx} may be {@code dy} itself (in place) but not {@code y}.
     *
     * @param dx receives the gradient of the input, same shape as {@code y}
     * @param dy gradient of the output, same shape as {@code y}
     * @param y  the forward's output
     */
    public static void backward(Tensor dx, Tensor dy, Tensor y) {
        final String op = "reluBackward";
        Checks.tensor(op, "y", y);
        Checks.tensor(op, "dy", dy);
        Checks.tensor(op, "dx", dx);
        Checks.shape(op, "dy", dy, y.shape(), "the shape of y");
        Checks.shape(op, "dx", dx, y.shape(), "the shape of y");
        Checks.distinct(op, 1, List.of("dx", "y"), dx, y);
        Device device = Checks.device(op, List.of("dx", "dy", "y"), dx, dy, y);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_relu_bwd_f32(dx.address(), dy.address(), y.address(), y.numel(),
                    device.index()));
        } else {
            Status.check(nnfuse_h.nf_relu_bwd_f32(dx.address(), dy.address(), y.address(), y.numel()));
        }
    }
}
