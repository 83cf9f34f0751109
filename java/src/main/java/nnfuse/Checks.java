package nnfuse;

import java.util.Arrays;
import java.util.Locale;

/** Argument checks shared by the ops; each message names the op, the argument and the shapes involved. */
final class Checks {
    private Checks() {}

    /** {@code t} is non-null, open, float32 and on the CPU. */
    static Tensor tensor(String op, String name, Tensor t) {
        return tensor(op, name, t, DType.FLOAT32);
    }

    /** {@code t} is non-null, open, of element type {@code dtype} and on the CPU. */
    static Tensor tensor(String op, String name, Tensor t, DType dtype) {
        if (t == null) {
            throw new IllegalArgumentException(op + ": " + name + " must not be null");
        }
        t.checkOpen(op + ": " + name);
        if (t.dtype() != dtype) {
            throw new IllegalArgumentException(op + ": " + name + " must be "
                    + dtype.name().toLowerCase(Locale.ROOT) + ", got " + t.describe());
        }
        return t;
    }

    /** {@code t} has exactly {@code rank} dimensions; {@code what} says what they are, e.g. {@code [N, C]}. */
    static void rank(String op, String name, Tensor t, int rank, String what) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(op + ": " + name + " must have " + rank + " dimensions " + what
                    + ", got " + t.describe());
        }
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

    /** {@code value} lies in {@code [lo, hi]} (so it is neither NaN nor infinite). */
    static void inRange(String op, String name, float value, float lo, float hi) {
        if (!(value >= lo && value <= hi)) {
            throw new IllegalArgumentException(op + ": " + name + " must be in [" + lo + ", " + hi + "], got " + value);
        }
    }

    /** {@code value} is not null; {@code name} says which argument. */
    static <T> T notNull(String op, String name, T value) {
        if (value == null) {
            throw new IllegalArgumentException(op + ": " + name + " must not be null");
        }
        return value;
    }
}
