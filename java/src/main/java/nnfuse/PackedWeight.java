package nnfuse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * A Linear weight packed for the forward product: the {@code [out_features, in_features]} weight laid out as
 * the matrix-product kernels read it, in native memory of nnfuse's own layout (which may change between
 * versions). {@link LinearOps#forward(Tensor, PackedWeight, Tensor)} and
 * {@link LinearLnReluOps#forward(Tensor, PackedWeight, Tensor, Tensor, Tensor, float, boolean)} with a packed
 * weight give the same results, bit for bit, as with the weight itself, which they pack on every call; a
 * caller running many forward passes between weight updates packs once per update ({@link #of}, then
 * {@link #repack} after each change to the weight) and saves that pass over the weight. One packed weight
 * serves every {@link CpuLevel}.
 *
 * <p>The packed weight is a copy: it does not see later changes to the weight until {@link #repack}. It owns
 * its memory, which {@link #close()} frees; use after {@code close()} throws {@link IllegalStateException}.
 *
 * <p>Thread-safety: that of a {@link Tensor}: any number of forward passes may read it at once, but
 * {@link #repack} must not race with them, and {@code close()} must not race with any use.
 */
public final class PackedWeight implements AutoCloseable {
    private static final String OP = "packWeight";

    private final Tensor packed;
    private final long inFeatures;
    private final long outFeatures;

    private PackedWeight(Tensor packed, long inFeatures, long outFeatures) {
        this.packed = packed;
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
    }

    /**
     * Packs {@code weight}.
     *
     * @param weight shape {@code [out_features, in_features]}, PyTorch's layout
     */
    public static PackedWeight of(Tensor weight) {
        Checks.tensor(OP, "weight", weight);
        Checks.rank(OP, "weight", weight, 2, "[out_features, in_features]");
        Checks.onCpu(OP, "weight", weight, "packed weights are a layout of the CPU backend's product engine");
        long out = weight.size(0);
        long in = weight.size(1);
        NativeLibrary.ensureLoaded();
        long numel;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment result = arena.allocate(ValueLayout.JAVA_LONG);
            Status.check(nnfuse_h.nf_linear_packed_numel(result, in, out));
            numel = result.get(ValueLayout.JAVA_LONG, 0);
        }
        PackedWeight p = new PackedWeight(Tensor.zeros(Device.CPU, numel), in, out);
        try {
            p.repack(weight);
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        return p;
    }

    /**
     * Packs {@code weight} again into this packed weight, after the weight changed (an optimizer step, a
     * loaded state dict). The shape must be the one this was packed from.
     *
     * @param weight shape {@code [out_features, in_features]}
     */
    public void repack(Tensor weight) {
        Checks.tensor(OP, "weight", weight);
        packed.checkOpen(OP + ": the packed weight");
        long[] expected = {outFeatures, inFeatures};
        if (!Arrays.equals(weight.shape(), expected)) {
            throw new IllegalArgumentException(OP + ": weight must have shape " + Arrays.toString(expected)
                    + " (the shape this was packed from), got " + Arrays.toString(weight.shape()));
        }
        NativeLibrary.ensureLoaded();
        Status.check(nnfuse_h.nf_linear_pack_f32(packed.segment(), weight.segment(), inFeatures, outFeatures));
    }

    /** The weight's second dimension. */
    public long inFeatures() {
        return inFeatures;
    }

    /** The weight's first dimension. */
    public long outFeatures() {
        return outFeatures;
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return packed.isClosed();
    }

    /** The packed floats, for the ops; throws when closed, naming {@code op}. */
    Tensor tensor(String op) {
        packed.checkOpen(op + ": weight (packed)");
        return packed;
    }

    /** Frees the packed copy; idempotent. */
    @Override
    public void close() {
        packed.close();
    }

    /** The weight's shape, e.g. {@code packed float32[128, 52]}; readable after close. */
    public String describe() {
        return "packed float32[" + outFeatures + ", " + inFeatures + "]";
    }

    @Override
    public String toString() {
        return "PackedWeight(" + describe() + (isClosed() ? ", closed)" : ")");
    }
}
