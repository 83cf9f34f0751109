package nnfuse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * The L2 penalty {@code lambda * ||theta||^2}, the sum of the squares of all
 * parameters scaled by {@code lambda} (the worksheet's section 5; in PyTorch,
 * {@code lam * sum(p.pow(2).sum() for p in params)}). Sums are in double and
 * bit-identical for every thread count.
 *
 * <p>The penalty's gradient is {@code 2 * lambda * theta} ({@link #backward}).
 * PyTorch's {@code torch.optim.SGD(weight_decay=wd)} adds {@code wd * theta}
 * to the gradient instead of differentiating a penalty, so
 * {@code weight_decay = 2 * lambda} ({@link SgdOps#step}) and the explicit
 * penalty give the same update, bit for bit: both round
 * {@code (2 * lambda) * theta} to float once and add it to the gradient in
 * the same order. Either can be used; the penalty also reports its value
 * ({@link #penalty}), weight decay costs no extra pass.
 *
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the
 * tensors passed in.
 */
public final class L2Ops {
    private static final String BACKWARD = "l2Backward";

    private L2Ops() {}

    /** {@code sum_i t[i]^2} over every element of the float32 tensor {@code t}, in double. */
    public static double sumOfSquares(Tensor t) {
        Checks.tensor("sumOfSquares", "t", t);
        return nativeSumOfSquares(t);
    }

    /**
     * {@code lambda * sum_p sumOfSquares(p)} over {@code parameters}, added in
     * list order; 0 for an empty list. Every tensor is checked before any is read.
     *
     * @param lambda     the strength; finite and >= 0
     * @param parameters float32 tensors of any shapes; no null elements
     */
    public static double penalty(double lambda, List<Tensor> parameters) {
        final String op = "l2Penalty";
        Checks.nonNegative(op, "lambda", lambda);
        Checks.notNull(op, "parameters", parameters);
        for (int i = 0; i < parameters.size(); i++) {
            Checks.tensor(op, "parameters[" + i + "]", parameters.get(i));
        }
        double sum = 0;
        for (Tensor p : parameters) {
            sum += nativeSumOfSquares(p);
        }
        return lambda * sum;
    }

    /**
     * The gradient of {@code lambda * ||x||^2}, {@code 2 * lambda * x}, in a new
     * tensor of the shape of {@code x}.
     *
     * @see #backward(Tensor, Tensor, float, boolean)
     */
    public static Tensor backward(Tensor x, float lambda) {
        Checks.tensor(BACKWARD, "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), x.shape()), grad -> backward(grad, x, lambda, false));
    }

    /**
     * Writes the gradient of {@code lambda * ||x||^2} into {@code grad}, or adds
     * it to {@code grad}: {@code grad = 2 * lambda * x}, or
     * {@code grad + 2 * lambda * x} as PyTorch accumulates into a parameter's
     * {@code .grad}. {@code 2 * lambda} is exact in float; the product and the
     * sum are each rounded to float once, as in PyTorch.
     *
     * @param grad       the parameter's gradient, shape of {@code x}; a distinct tensor
     * @param x          the parameter
     * @param lambda     the strength; finite and >= 0
     * @param accumulate false to overwrite {@code grad}, true to add to it
     */
    public static void backward(Tensor grad, Tensor x, float lambda, boolean accumulate) {
        final String op = BACKWARD;
        Checks.tensor(op, "x", x);
        Checks.tensor(op, "grad", grad);
        Checks.shape(op, "grad", grad, x.shape(), "the shape of x");
        Checks.distinct(op, 1, List.of("grad", "x"), grad, x);
        Checks.nonNegative(op, "lambda", lambda);
        Device device = Checks.device(op, List.of("grad", "x"), grad, x);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_l2_bwd_f32(grad.address(), x.address(), x.numel(), lambda,
                    accumulate ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_l2_bwd_f32(grad.address(), x.address(), x.numel(), lambda, accumulate ? 1 : 0));
        }
    }

    /** The sum in host memory; on a CUDA device the call waits for it (and for the work before it). */
    private static double nativeSumOfSquares(Tensor t) {
        NativeLibrary.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_DOUBLE);
            Device device = t.device();
            if (device.isCuda()) {
                Status.check(nnfuse_h.nf_cuda_l2_fwd_f32(out, t.address(), t.numel(), device.index()));
            } else {
                Status.check(nnfuse_h.nf_l2_fwd_f32(out, t.address(), t.numel()));
            }
            return out.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }
}
