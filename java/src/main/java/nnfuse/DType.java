package nnfuse;

/** Element types a {@link Tensor} can hold. Kernels compute in {@link #FLOAT32}; {@link #INT64} holds labels and indices. Immutable. */
public enum DType {
    /** IEEE-754 binary32, little-endian, as C's {@code float}. */
    FLOAT32(4),
    /** Two's complement 64-bit integer, as C's {@code int64_t}. */
    INT64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }
}
