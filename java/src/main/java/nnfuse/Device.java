package nnfuse;

/**
 * Where a tensor's memory lives and where ops on it run. Today every tensor is
 * on the {@link #CPU}; an op given tensors on different devices throws.
 * Immutable and thread-safe.
 */
public record Device(Kind kind, int index) {
    /** The host: tensors in off-heap memory, kernels on the CPU backend. */
    public static final Device CPU = new Device(Kind.CPU, 0);

    /** Kinds of device. */
    public enum Kind {
        CPU,
        CUDA
    }

    public Device {
        if (kind == null) {
            throw new IllegalArgumentException("kind must not be null");
        }
        if (index < 0) {
            throw new IllegalArgumentException("device index must be >= 0, got " + index);
        }
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
