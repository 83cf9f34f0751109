package nnfuse;

import java.lang.foreign.MemorySegment;
import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Softmax and log-softmax over the last dimension, as PyTorch's
 * {@code torch.softmax(x, dim=-1)} and {@code torch.log_softmax(x, dim=-1)}:
 * {@code softmax(x)_j = exp(x_j - max) / sum_k exp(x_k - max)} and
 * {@code logSoftmax(x)_j = x_j - max - log(sum_k exp(x_k - max))}, per row
 * (each slice along the last dimension). Subtracting the row maximum keeps
 * every exponent at or below zero, so any finite logits work; log-softmax
 * never forms the probabilities, so it stays finite where they underflow.
 * A row with NaN, with {@code +inf}, or with every entry {@code -inf} gives
 * NaN, as in PyTorch.
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the
 * tensors passed in. Results do not depend on {@link Nnfuse#setThreads}.
 */
public final class SoftmaxOps {
    private SoftmaxOps() {}

    /** A row kernel of nnfuse.h: {@code (y, x, rows, cols) -> status}. */
    @FunctionalInterface
    private interface RowKernel {
        int call(MemorySegment y, MemorySegment x, long rows, long cols);
    }

    /** Its CUDA namesake: {@code (y, x, rows, cols, device) -> status}. */
    @FunctionalInterface
    private interface CudaRowKernel {
        int call(MemorySegment y, MemorySegment x, long rows, long cols, int device);
    }

    /** The softmax of {@code x} (any rank >= 1) over its last dimension, in a new tensor of the same shape. */
    public static Tensor softmax(Tensor x) {
        Checks.tensor("softmax", "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), x.shape()), y -> softmax(y, x));
    }

    /** Writes the softmax of {@code x} into {@code y} (same shape; may be {@code x} itself, in place). */
    public static void softmax(Tensor y, Tensor x) {
        run("softmax", nnfuse_h::nf_softmax_fwd_f32, nnfuse_h::nf_cuda_softmax_fwd_f32, y, x);
    }

    /** The log-softmax of {@code x} (any rank >= 1) over its last dimension, in a new tensor of the same shape. */
    public static Tensor logSoftmax(Tensor x) {
        Checks.tensor("logSoftmax", "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), x.shape()), y -> logSoftmax(y, x));
    }

    /** Writes the log-softmax of {@code x} into {@code y} (same shape; may be {@code x} itself, in place). */
    public static void logSoftmax(Tensor y, Tensor x) {
        run("logSoftmax", nnfuse_h::nf_log_softmax_fwd_f32, nnfuse_h::nf_cuda_log_softmax_fwd_f32, y, x);
    }

    private static void run(String op, RowKernel kernel, CudaRowKernel cudaKernel, Tensor y, Tensor x) {
        Checks.tensor(op, "x", x);
        Checks.tensor(op, "y", y);
        Checks.shape(op, "y", y, x.shape(), "the shape of x");
        Device device = Checks.device(op, List.of("y", "x"), y, x);
        long cols = x.size(-1);
        long rows = x.numel() / cols;
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(cudaKernel.call(y.address(), x.address(), rows, cols, device.index()));
        } else {
            Status.check(kernel.call(y.address(), x.address(), rows, cols));
        }
    }
}
