package nnfuse.nn;

import java.util.Arrays;
import nnfuse.Tensor;

/**
 * A trainable tensor of a {@link Module}, as PyTorch's {@code nn.Parameter}.
 * It has no name of its own: the module that owns it names it, and
 * {@link Module#namedParameters()} reports it under PyTorch's state-dict key
 * (e.g. {@code "0.weight"}).
 *
 * <p>The owning module allocates the tensor and frees it in
 * {@link Module#close()}; callers may read and overwrite its elements but must
 * not close it. Thread-safety: that of the owning module (not thread-safe).
 */
public final class Parameter {
    private final Tensor data;

    Parameter(Tensor data) {
        this.data = data;
    }

    /** The values: the module's own tensor, not a copy. */
    public Tensor data() {
        return data;
    }

    /** The shape (a copy). */
    public long[] shape() {
        return data.shape();
    }

    /** The number of elements. */
    public long numel() {
        return data.numel();
    }

    @Override
    public String toString() {
        return "Parameter" + Arrays.toString(data.shape());
    }
}
