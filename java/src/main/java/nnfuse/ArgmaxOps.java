package nnfuse;

import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * The index of the largest value along the last dimension, as PyTorch's
 * {@code torch.argmax(x, dim=-1, keepdim=True)}: the first index on ties, and
 * the first NaN when a row has one (NaN counts as the largest value). For
 * logits {@code [n, classes]} this is the predicted class, shape {@code [n, 1]}
 * (the worksheet's {@code z11}).
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the
 * tensors passed in.
 */
public final class ArgmaxOps {
    private ArgmaxOps() {}

    /** The argmax of each row of {@code x} (any rank >= 1): int64, x's shape with the last dimension 1. */
    public static Tensor forward(Tensor x) {
        Checks.tensor("argmax", "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), DType.INT64, indexShape(x)), index -> forward(index, x));
    }

    /**
     * Writes the argmax of each row of {@code x} into {@code index}, an int64
     * tensor of x's shape with the last dimension 1.
     */
    public static void forward(Tensor index, Tensor x) {
        final String op = "argmax";
        Checks.tensor(op, "x", x);
        Checks.tensor(op, "index", index, DType.INT64);
        Checks.shape(op, "index", index, indexShape(x), "x " + x.describe() + " with its last dimension 1");
        Device device = Checks.device(op, List.of("index", "x"), index, x);
        long cols = x.size(-1);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_argmax_fwd_f32(index.address(), x.address(), x.numel() / cols, cols,
                    device.index()));
        } else {
            Status.check(nnfuse_h.nf_argmax_fwd_f32(index.address(), x.address(), x.numel() / cols, cols));
        }
    }

    private static long[] indexShape(Tensor x) {
        long[] shape = x.shape();
        shape[shape.length - 1] = 1;
        return shape;
    }
}
