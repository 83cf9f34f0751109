package nnfuse.nn;

import java.util.Arrays;
import nnfuse.Device;
import nnfuse.Tensor;

/**
 * A trainable tensor of a {@link Module}, as PyTorch's {@code nn.Parameter}:
 * its values and the gradient that backward passes accumulate into. It has no
 * name of its own: the module that owns it names it, and
 * {@link Module#namedParameters()} reports it under PyTorch's state-dict key
 * (e.g. {@code "0.weight"}).
 *
 * <p>The owning module allocates the values, and frees them and the gradient
 * in {@link Module#close()}; callers may read and overwrite the elements of
 * both but must not close them. Thread-safety: that of the owning module (not
 * thread-safe).
 */
public final class Parameter {
    private Tensor data;
    private Tensor grad;
    private long version;

    Parameter(Tensor data) {
        this.data = data;
    }

    /**
     * The values: the module's own tensor, not a copy. A caller that writes
     * them calls {@link #markChanged()} afterwards.
     */
    public Tensor data() {
        return data;
    }

    /**
     * How many times the values were changed: by {@link SGD#step()},
     * {@link Module#loadStateDict} and {@link #markChanged()}. Modules that
     * keep a copy derived from a parameter ({@link Linear}'s packed weight)
     * rebuild it at their next forward when this moved.
     */
    public long version() {
        return version;
    }

    /**
     * Records that the values changed, as PyTorch's in-place operations bump
     * a tensor's {@code _version}: a caller that writes {@link #data()} itself
     * (not through an optimizer or a state dict) calls this afterwards, or a
     * module may go on using a copy made before the write.
     *
     * @throws IllegalStateException after the owning module was closed
     */
    public void markChanged() {
        checkOpen();
        version++;
    }

    /**
     * The gradient, PyTorch's {@code .grad}: a float32 tensor of the
     * parameter's shape that {@link Module#backward} adds into, so gradients
     * of successive backward passes sum until {@link #zeroGrad()}. It is
     * allocated, as zeros, at the first call (a module used only for
     * inference never allocates one) and is the same tensor afterwards. An
     * optimizer or an outside autograd reads it; a caller may also write it.
     *
     * @throws IllegalStateException after the owning module was closed
     */
    public Tensor grad() {
        checkOpen();
        if (grad == null) {
            grad = Tensor.zeros(data.device(), data.shape());
        }
        return grad;
    }

    /** Whether {@link #grad()} was allocated, i.e. whether a backward pass (or a caller) reached this parameter. */
    public boolean hasGrad() {
        return grad != null;
    }

    /**
     * Sets the gradient to zeros, keeping the tensor: PyTorch's
     * {@code zero_grad(set_to_none=False)}. Does nothing before the gradient
     * exists.
     *
     * @throws IllegalStateException after the owning module was closed
     */
    public void zeroGrad() {
        checkOpen();
        if (grad != null) {
            grad.fill(0f);
        }
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

    /** Moves the values and the gradient to {@code device}, freeing the old ones ({@link Module#to}). */
    void moveTo(Device device) {
        data = Module.moved(data, device);
        if (grad != null) {
            grad = Module.moved(grad, device);
        }
        version++;
    }

    /** Frees the values and the gradient; the owning module's {@link Module#close()} calls it. */
    void free() {
        data.close();
        if (grad != null) {
            grad.close();
        }
    }

    private void checkOpen() {
        if (data.isClosed()) {
            throw new IllegalStateException(this + " belongs to a closed module");
        }
    }
}
