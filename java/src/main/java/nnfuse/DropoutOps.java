package nnfuse;

import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Dropout in training mode (Srivastava et al., JMLR 2014): each element is
 * dropped (set to 0) with probability {@code p}. Inverted dropout, PyTorch's
 * {@code torch.nn.functional.dropout(x, p, training=True)}, scales the kept
 * elements by {@code 1 / (1 - p)} so that the expected output equals the
 * input; plain dropout keeps them unchanged. Evaluation mode is the identity
 * and is the caller's business.
 *
 * <p>The mask is a pure function of {@code (seed, offset)} and the element
 * index, never of the thread count. Element {@code i} takes draw
 * {@code offset + i} of the Philox4x32-10 stream that cuRAND's
 * {@code curand_init(seed, 0, 0, &state)} starts
 * ({@link nnfuse.random.Philox4x32#draw}), converts it as
 * {@code curand_uniform} does ({@link nnfuse.random.Philox4x32#uniform}) and
 * is kept when that float is {@code < 1 - p}, as PyTorch's CUDA dropout
 * compares; masks can thus be reproduced outside nnfuse. A caller that
 * advances {@code offset} by {@code x.numel()} after each call continues one
 * stream. {@code seed} and {@code offset} are unsigned 64-bit values carried
 * in {@code long}s (as cuRAND's {@code unsigned long long}): {@code -1L} means
 * 2^64 - 1.
 *
 * <p>Dropped elements are {@code +0.0} whatever the input holds, so
 * {@code p = 1} gives zeros, never NaN (PyTorch multiplies by the mask, which
 * keeps a dropped NaN). {@code p = 0} returns an exact copy, as PyTorch returns
 * the input unchanged.
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the
 * tensors passed in.
 */
public final class DropoutOps {
    /** PyTorch's default drop probability for {@code nn.Dropout}. */
    public static final float DEFAULT_P = 0.5f;

    private static final String BACKWARD = "dropoutBackward";

    private DropoutOps() {}

    /**
     * Drops elements of {@code x} into a new tensor of the same shape.
     *
     * @param x        input, any shape
     * @param p        drop probability in [0, 1]
     * @param inverted true to scale kept elements by {@code 1 / (1 - p)} (PyTorch's dropout), false to keep them as is
     * @param seed     the stream's seed, unsigned 64-bit
     * @param offset   the stream index of element 0, unsigned 64-bit; {@code offset + x.numel()} at most 2^64
     */
    public static Tensor forward(Tensor x, float p, boolean inverted, long seed, long offset) {
        Checks.tensor("dropout", "x", x);
        Tensor y = Tensor.zeros(x.device(), x.shape());
        try {
            forward(y, x, p, inverted, seed, offset);
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
        return y;
    }

    /**
     * Drops elements of {@code x} into {@code y}, which may be {@code x} itself
     * (in place, PyTorch's {@code inplace=True}).
     *
     * @param y output, same shape as {@code x}
     * @see #forward(Tensor, float, boolean, long, long)
     */
    public static void forward(Tensor y, Tensor x, float p, boolean inverted, long seed, long offset) {
        final String op = "dropout";
        Checks.tensor(op, "x", x);
        Checks.tensor(op, "y", y);
        Checks.shape(op, "y", y, x.shape(), "the shape of x");
        Checks.dropoutProbability(op, "p", p);
        Checks.streamRange(op, offset, x.numel(), x);
        Device device = Checks.device(op, List.of("y", "x"), y, x);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_dropout_fwd_f32(y.address(), x.address(), x.numel(), seed, offset, p,
                    inverted ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_dropout_fwd_f32(y.address(), x.address(), x.numel(), seed, offset, p,
                    inverted ? 1 : 0));
        }
    }

    /**
     * The gradient of {@link #forward} with respect to its input, in a new
     * tensor of the shape of {@code dy}.
     *
     * @see #backward(Tensor, Tensor, float, boolean, long, long)
     */
    public static Tensor backward(Tensor dy, float p, boolean inverted, long seed, long offset) {
        Checks.tensor(BACKWARD, "dy", dy);
        return Outputs.fill(Tensor.zeros(dy.device(), dy.shape()), dx -> backward(dx, dy, p, inverted, seed, offset));
    }

    /**
     * Writes the gradient of {@link #forward} with respect to its input into
     * {@code dx}, for the arguments the forward was called with. Dropout's
     * Jacobian is diagonal, {@code kept * scale}, so this is the forward
     * applied to {@code dy}: the mask is drawn again from {@code (seed, offset)},
     * never stored, and the result equals {@code forward(dy, p, inverted, seed, offset)}
     * bit for bit (dropped units +0.0, {@code p = 0} an exact copy). PyTorch
     * multiplies dy by the stored mask instead, which keeps a NaN of dy where a
     * unit was dropped; here the gradient of a dropped unit is always 0.
     *
     * @param dx output, same shape as {@code dy}; may be {@code dy} itself (in place)
     * @param dy gradient of the loss with respect to the forward's output
     */
    public static void backward(Tensor dx, Tensor dy, float p, boolean inverted, long seed, long offset) {
        final String op = BACKWARD;
        Checks.tensor(op, "dy", dy);
        Checks.tensor(op, "dx", dx);
        Checks.shape(op, "dx", dx, dy.shape(), "the shape of dy");
        Checks.dropoutProbability(op, "p", p);
        Checks.streamRange(op, offset, dy.numel(), dy);
        Device device = Checks.device(op, List.of("dx", "dy"), dx, dy);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_dropout_bwd_f32(dx.address(), dy.address(), dy.numel(), seed, offset, p,
                    inverted ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_dropout_bwd_f32(dx.address(), dy.address(), dy.numel(), seed, offset, p,
                    inverted ? 1 : 0));
        }
    }

    /**
     * The keep mask {@link #forward} applies for the same arguments, as a new
     * tensor: 1 where an element is kept, 0 where it is dropped.
     *
     * @param shape the shape of the tensor the mask is for
     * @see #mask(Tensor, float, long, long)
     */
    public static Tensor mask(long[] shape, float p, long seed, long offset) {
        Tensor mask = Tensor.zeros(shape);
        try {
            mask(mask, p, seed, offset);
        } catch (RuntimeException e) {
            mask.close();
            throw e;
        }
        return mask;
    }

    /**
     * Writes the keep mask {@link #forward} applies into {@code mask}: element
     * {@code i} is 1 where element {@code i} of an input of the same shape is
     * kept, 0 where it is dropped.
     *
     * @param mask   output, any shape
     * @param p      drop probability in [0, 1]
     * @param seed   the stream's seed, unsigned 64-bit
     * @param offset the stream index of element 0, unsigned 64-bit; {@code offset + mask.numel()} at most 2^64
     */
    public static void mask(Tensor mask, float p, long seed, long offset) {
        final String op = "dropoutMask";
        Checks.tensor(op, "mask", mask);
        Checks.dropoutProbability(op, "p", p);
        Checks.streamRange(op, offset, mask.numel(), mask);
        Device device = mask.device();
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_dropout_mask_fwd_f32(mask.address(), mask.numel(), seed, offset, p,
                    device.index()));
        } else {
            Status.check(nnfuse_h.nf_dropout_mask_fwd_f32(mask.address(), mask.numel(), seed, offset, p));
        }
    }
}
