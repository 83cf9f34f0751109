package nnfuse;

/**
 * Where a tensor's memory lives and where ops on it run: the {@link #CPU}, or
 * a CUDA device by index. Every tensor argument of one op call must be on the
 * same device; the op then runs there. Immutable and thread-safe.
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
        if (kind == Kind.CPU && index != 0) {
            throw new IllegalArgumentException("the CPU device has index 0, got " + index);
        }
    }

    /**
     * CUDA device {@code index}, as CUDA numbers them. Whether it exists is checked when memory is first
     * allocated on it ({@link Nnfuse#cudaDeviceCount()} tells beforehand).
     */
    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    /**
     * Parses {@code cpu}, {@code cuda} (device 0) or {@code cuda:N}, as PyTorch writes devices.
     *
     * @throws IllegalArgumentException for anything else
     */
    public static Device parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("device must not be null");
        }
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) {
            return CPU;
        }
        if (t.equals("cuda")) {
            return cuda(0);
        }
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                // reported below with the whole text
            }
        }
        throw new IllegalArgumentException("unknown device '" + text + "'; expected cpu, cuda or cuda:N");
    }

    /** Whether this is a CUDA device. */
    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
