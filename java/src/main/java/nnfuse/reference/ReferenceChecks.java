package nnfuse.reference;

/** Argument checks shared by the reference kernels. */
final class ReferenceChecks {
    private ReferenceChecks() {}

    static void requireLength(String name, float[] a, long expected) {
        requireNonNull(name, a);
        requireLength(name, a.length, expected);
    }

    static void requireLength(String name, double[] a, long expected) {
        requireNonNull(name, a);
        requireLength(name, a.length, expected);
    }

    static void requireLength(String name, long[] a, long expected) {
        requireNonNull(name, a);
        requireLength(name, a.length, expected);
    }

    /** An optional array is null or has {@code expected} elements. */
    static void requireOptionalLength(String name, double[] a, long expected) {
        if (a != null) {
            requireLength(name, a, expected);
        }
    }

    static void requireNonNull(String name, Object a) {
        if (a == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
    }

    private static void requireLength(String name, int length, long expected) {
        if (length != expected) {
            throw new IllegalArgumentException(name + " has " + length + " elements, expected " + expected);
        }
    }

    /** The array widened to double, exactly; null (an absent optional array) stays null. */
    static double[] widen(float[] a) {
        if (a == null) {
            return null;
        }
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /** {@link #widen}, passing null (an absent optional argument) through. */
    static double[] widenOrNull(float[] a) {
        return a == null ? null : widen(a);
    }
}
