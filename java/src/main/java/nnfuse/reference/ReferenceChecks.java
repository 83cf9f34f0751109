package nnfuse.reference;

/** Argument checks shared by the reference kernels. */
final class ReferenceChecks {
    private ReferenceChecks() {}

    static void requireLength(String name, float[] a, long expected) {
        requireNonNull(name, a);
        requireLength(name, a.length, expected);
    }

    static void requireLength(String name, long[] a, long expected) {
        requireNonNull(name, a);
        requireLength(name, a.length, expected);
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
}
