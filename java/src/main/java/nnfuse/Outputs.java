package nnfuse;

import java.util.function.Consumer;

/** Support for the allocating form of an op: a new output tensor that the writing form fills. */
final class Outputs {
    private Outputs() {}

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
