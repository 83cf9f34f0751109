package nnfuse.reference;

/** Argument checks shared by the reference kernels. */
final class ReferenceChecks {
    private ReferenceChecks() {}

    static void requireLength(String name, float[] a, long expected) {
        if (a == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        if (a.length != expected) {
            throw new IllegalArgumentException(name + " has " + a.length + " elements, expected " + expected);
        }
    }
}
