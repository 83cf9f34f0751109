package nnfuse;

import java.util.function.Consumer;

/** Support for the allocating form of an op: a new output tensor that the writing form fills. */
final class Outputs {
    private Outputs() {}

    /**
     * A new float32 output of {@code shape} on the device of {@code input}, the op's checked input: ops run
     * where their inputs are.
     */
    static Tensor zeros(Tensor input, long[] shape) {
        return Tensor.zeros(input.device(), shape);
    }

    /** Runs {@code writer} on {@code out} and returns it; frees {@code out} if the writer throws. */
    static Tensor fill(Tensor out, Consumer<Tensor> writer) {
        try {
            writer.accept(out);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }
}
