package nnfuse.nn;

import java.util.List;
import nnfuse.ReluOps;
import nnfuse.Tensor;

/**
 * {@code max(x, 0)} element-wise, as PyTorch's {@code nn.ReLU()}; no
 * parameters. In training mode a forward keeps a copy of its output, whose
 * sign masks the gradient ({@link ReluOps#backward}). Not thread-safe (see
 * {@link Module}).
 */
public final class ReLU extends Module {
    /** A ReLU. */
    public ReLU() {}

    /** Returns {@code max(input, 0)} in a new tensor of the same shape. */
    @Override
    public Tensor forward(Tensor input) {
        checkOpen();
        if (!isTraining()) {
            releaseSaved();
            return ReluOps.forward(input);
        }
        return keeping(s -> {
            Tensor y = s.output(ReluOps.forward(input));
            s.keep(copy(y));
            return y;
        });
    }

    /** {@code gradOutput} where the forward's output is positive, 0 elsewhere. */
    @Override
    public Tensor backward(Tensor gradOutput) {
        checkOpen();
        try (Saved s = takeSaved(gradOutput)) {
            return ReluOps.backward(gradOutput, s.get(0));
        }
    }

    /** Keeps its output, whose sign gives the gradient mask (PyTorch's threshold_backward reads the result). */
    @Override
    long[] summarize(String name, long[] in, List<Summary.Row> rows) {
        rows.add(row(name, in, numel(in), numel(in) * FLOAT_BYTES, numel(in) * FLOAT_BYTES));
        return in.clone();
    }
}
