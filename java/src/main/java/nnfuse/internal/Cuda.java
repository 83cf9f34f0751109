package nnfuse.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * The CUDA runtime as the library exposes it (nnfuse.h, "CUDA backend"):
 * devices, device memory and copies. Device pointers travel as zero-length
 * segments that only the native side dereferences.
 *
 * <p>Stateless and thread-safe.
 */
public final class Cuda {
    private Cuda() {}

    /** Devices usable now; 0 without the CUDA backend. The reason for 0, if CUDA gave one, is in {@link #probe}. */
    public static int deviceCount() {
        return probe().count();
    }

    /** How many devices the runtime found, and CUDA's message when it found none. */
    public record Probe(int count, String reason) {}

    /** Asks the runtime for its devices; a missing driver is an answer (0 devices and CUDA's reason), not an error. */
    public static Probe probe() {
        NativeLibrary.ensureOpened();
        if (nnfuse_h.nf_cuda_built() == 0) {
            return new Probe(0, "this libnnfuse was built without the CUDA backend");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            int status = nnfuse_h.nf_cuda_device_count(count);
            if (status != 0) {
                return new Probe(0, nnfuse_h.nf_last_error().getString(0));
            }
            int n = count.get(ValueLayout.JAVA_INT, 0);
            return new Probe(n, n == 0 ? "the CUDA driver reports no device" : "");
        }
    }

    /** Whether the CUDA kernels run on the CPU harness (a test build) rather than a GPU. */
    public static boolean emulated() {
        NativeLibrary.ensureOpened();
        return nnfuse_h.nf_cuda_emulated() != 0;
    }

    /** The name of device {@code index}. */
    public static String deviceName(int index) {
        NativeLibrary.ensureOpened();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocate(256);
            Status.check(nnfuse_h.nf_cuda_device_name(name, name.byteSize(), index));
            return name.getString(0);
        }
    }

    /** {@code bytes} of memory on {@code device}, as a zero-length segment holding the device address. */
    public static MemorySegment malloc(long bytes, int device) {
        NativeLibrary.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Status.check(nnfuse_h.nf_cuda_malloc(out, bytes, device));
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    public static void free(MemorySegment pointer, int device) {
        Status.check(nnfuse_h.nf_cuda_free(pointer, device));
    }

    public static void copyToDevice(MemorySegment device, MemorySegment host, long bytes, int index) {
        Status.check(nnfuse_h.nf_cuda_memcpy_h2d(device, host, bytes, index));
    }

    public static void copyToHost(MemorySegment host, MemorySegment device, long bytes, int index) {
        Status.check(nnfuse_h.nf_cuda_memcpy_d2h(host, device, bytes, index));
    }

    public static void copyOnDevice(MemorySegment to, MemorySegment from, long bytes, int index) {
        Status.check(nnfuse_h.nf_cuda_memcpy_d2d(to, from, bytes, index));
    }

    public static void zero(MemorySegment device, long bytes, int index) {
        Status.check(nnfuse_h.nf_cuda_memset_zero(device, bytes, index));
    }

    public static void synchronize(int device) {
        Status.check(nnfuse_h.nf_cuda_synchronize(device));
    }
}
