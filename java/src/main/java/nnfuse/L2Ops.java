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
 * <p>Stateless and thread-safe; the usual rules of {@link Tensor} apply to the
 * tensors passed in.
 */
public final class L2Ops {
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

    private static double nativeSumOfSquares(Tensor t) {
        NativeLibrary.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_DOUBLE);
            Status.check(nnfuse_h.nf_l2_fwd_f32(out, t.segment(), t.numel()));
            return out.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }
}
