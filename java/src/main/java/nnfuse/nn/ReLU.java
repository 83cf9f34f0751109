package nnfuse.nn;

import java.util.List;
import nnfuse.ReluOps;
import nnfuse.Tensor;

/**
 * {@code max(x, 0)} element-wise, as PyTorch's {@code nn.ReLU()}; no
 * parameters. Not thread-safe (see {@link Module}).
 */
public final class ReLU extends Module {
    /** A ReLU. */
    public ReLU() {}

    /** Returns {@code max(input, 0)} in a new tensor of the same shape. */
    @Override
    public Tensor forward(Tensor input) {
        checkOpen();
        return ReluOps.forward(input);
    }

    /** Keeps its output, whose sign gives the gradient mask (PyTorch's threshold_backward reads the result). */
    @Override
    long[] summarize(String name, long[] in, List<Summary.Row> rows) {
        rows.add(row(name, in, numel(in), numel(in) * FLOAT_BYTES, numel(in) * FLOAT_BYTES));
        return in.clone();
    }
}
