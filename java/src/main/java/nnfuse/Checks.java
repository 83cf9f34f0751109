package nnfuse;

import java.util.Arrays;

/** Argument checks shared by the ops; each message names the op, the argument and the shapes involved. */
final class Checks {
    private Checks() {}

    /** {@code t} is non-null, open, float32 and on the CPU. */
    static Tensor tensor(String op, String name, Tensor t) {
        if (t == null) {
            throw new IllegalArgumentException(op + ": " + name + " must not be null");
        }
        t.checkOpen(op + ": " + name);
        if (t.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException(op + ": " + name + " must be float32, got " + t.describe());
        }
        return t;
    }

    /** Like {@link #tensor} but null is allowed (an absent optional argument). */
    static Tensor optional(String op, String name, Tensor t) {
        return t == null ? null : tensor(op, name, t);
    }

    /** {@code t} has exactly {@code expected} as its shape; {@code why} explains where the expectation comes from. */
    static void shape(String op, String name, Tensor t, long[] expected, String why) {
        if (t != null && !Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + name + " must have shape " + Arrays.toString(expected)
                    + " (" + why + "), got " + Arrays.toString(t.shape()));
        }
    }

    /** {@code value} is finite and >= 0. */
    static void nonNegative(String op, String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(op + ": " + name + " must be finite and >= 0, got " + value);
        }
    }

    /** {@code p} is a dropout probability in [0, 1]; the message carries PyTorch's text. */
    static void dropoutProbability(String op, String name, float p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException(
                    op + ": " + name + ": dropout probability has to be between 0 and 1, but got " + p);
        }
    }

    /**
     * Stream indices {@code offset} to {@code offset + n - 1} (unsigned) do not wrap past 2^64 - 1, where
     * cuRAND's 128-bit counter would carry on instead of starting over.
     */
    static void streamRange(String op, long offset, long n, Tensor t) {
        if (Long.compareUnsigned(offset + (n - 1), offset) < 0) {
            throw new IllegalArgumentException(op + ": offset + n must not exceed 2^64, got offset "
                    + Long.toUnsignedString(offset) + " and n " + n + " (" + t.describe() + ")");
        }
    }
}
