package nnfuse;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** Argument checks shared by the ops; each message names the op, the argument and the shapes involved. */
final class Checks {
    private Checks() {}

    /** {@code t} is non-null, open and float32. */
    static Tensor tensor(String op, String name, Tensor t) {
        return tensor(op, name, t, DType.FLOAT32);
    }

    /** {@code t} is non-null, open and of element type {@code dtype}. */
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

    /**
     * None of the first {@code outputs} tensors is also passed as another argument: a kernel reads its
     * inputs while it writes, so an output aliasing one would corrupt the result (PyTorch refuses such
     * {@code out=} arguments too). Tensors never share memory otherwise, so identity is the whole test.
     *
     * @param names   the argument names, in the order of {@code tensors}
     * @param tensors outputs first, then the inputs; nulls (absent optional arguments) are skipped
     */
    static void distinct(String op, int outputs, List<String> names, Tensor... tensors) {
        for (int i = 0; i < outputs; i++) {
            for (int j = i + 1; j < tensors.length; j++) {
                if (tensors[i] != null && tensors[i] == tensors[j]) {
                    throw new IllegalArgumentException(op + ": " + names.get(i) + " and " + names.get(j)
                            + " are the same tensor " + tensors[i].describe()
                            + "; an output must not also be another argument");
                }
            }
        }
    }

    /** {@code a} and {@code b} are both given or both null. */
    static void bothOrNeither(String op, String nameA, Tensor a, String nameB, Tensor b) {
        if ((a == null) != (b == null)) {
            throw new IllegalArgumentException(op + ": " + nameA + " and " + nameB
                    + " must both be given or both be null, got " + describeOrNull(a) + " and " + describeOrNull(b));
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

    /**
     * The device of the non-null tensors, which must all be on the same one: an op runs where its tensors are,
     * and never copies them behind the caller's back.
     *
     * @param names the argument names, in the order of {@code tensors}
     */
    static Device device(String op, List<String> names, Tensor... tensors) {
        Device device = null;
        String first = null;
        for (int i = 0; i < tensors.length; i++) {
            Tensor t = tensors[i];
            if (t == null) {
                continue;
            }
            if (device == null) {
                device = t.device();
                first = names.get(i);
            } else if (!t.device().equals(device)) {
                throw new IllegalArgumentException(op + ": all tensors must be on one device, but " + first + " is on "
                        + device + " and " + names.get(i) + " on " + t.device() + "; copy one with Tensor.to(Device)");
            }
        }
        return device == null ? Device.CPU : device;
    }

    /**
     * {@link #distinct} and then {@link #device} over the same arguments, for the ops that check both: returns
     * the device the op runs on.
     */
    static Device distinctOnOneDevice(String op, int outputs, List<String> names, Tensor... tensors) {
        distinct(op, outputs, names, tensors);
        return device(op, names, tensors);
    }

    /** {@code t} is in host memory; {@code why} says what needs it there. */
    static void onCpu(String op, String name, Tensor t, String why) {
        if (t != null && t.device().isCuda()) {
            throw new IllegalArgumentException(op + ": " + name + " must be on the CPU (" + why + "), got "
                    + t.describe());
        }
    }

    private static String describeOrNull(Tensor t) {
        return t == null ? "null" : t.describe();
    }
}
