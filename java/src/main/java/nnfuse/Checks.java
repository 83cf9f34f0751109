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

    /** {@code t} has {@code rank} dimensions; {@code layout} names them, e.g. {@code [N, C]}. */
    static void rank(String op, String name, Tensor t, int rank, String layout) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(op + ": " + name + " must have rank " + rank + " (" + layout
                    + "), got " + t.describe());
        }
    }

    /** {@code a} and {@code b} are both given or both null. */
    static void bothOrNeither(String op, String nameA, Tensor a, String nameB, Tensor b) {
        if ((a == null) != (b == null)) {
            throw new IllegalArgumentException(op + ": " + nameA + " and " + nameB
                    + " must both be given or both be null, got " + describeOrNull(a) + " and " + describeOrNull(b));
        }
    }

    /** {@code value} is finite and in [0, 1]. */
    static void unitInterval(String op, String name, double value) {
        if (!(value >= 0 && value <= 1)) {
            throw new IllegalArgumentException(op + ": " + name + " must be finite and in [0, 1], got " + value);
        }
    }

    private static String describeOrNull(Tensor t) {
        return t == null ? "null" : t.describe();
    }
}
