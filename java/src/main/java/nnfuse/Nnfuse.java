package nnfuse;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import nnfuse.internal.Cuda;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * The library as a whole: version, where the native code came from, the CPU
 * features it sees, the SIMD level its CPU kernels run at, the thread count,
 * and which backend runs ops.
 *
 * <p>The CPU level is the widest this CPU supports unless the system property
 * {@value #CPU_LEVEL_PROPERTY} (read when the library is loaded) or the
 * environment variable {@code NNFUSE_CPU_LEVEL} names one, the property
 * winning; {@link #setCpuLevel} changes it later. A level the CPU lacks is an
 * error, never a silent fallback: every op with per-level code then throws.
 *
 * <p>The backend is chosen once, at first use: the system property
 * {@value #BACKEND_PROPERTY} (or the environment variable {@code NNFUSE_BACKEND})
 * names it, {@code cpu}, {@code cuda} or {@code cuda:N}; without either, it is
 * {@code cpu}, as PyTorch's default device is. Its device is the default
 * device: where tensors made without a device or an arena go, and so where ops
 * on them run. A backend that is named but unavailable (no CUDA in this build,
 * no such device) is an error, never a silent fallback. Thread-safe.
 */
public final class Nnfuse {
    /** System property naming the backend: {@code cpu}, {@code cuda} or {@code cuda:N}. */
    public static final String BACKEND_PROPERTY = "nnfuse.backend";

    /** System property naming the CPU level: {@code scalar}, {@code avx2} or {@code avx512}. */
    public static final String CPU_LEVEL_PROPERTY = NativeLibrary.CPU_LEVEL_PROPERTY;

    /** Whether {@link #setCpuLevel} has run, which makes the level its choice rather than the property's. */
    private static volatile boolean cpuLevelSet;

    private Nnfuse() {}

    /** The backend that runs ops on tensors made without a device, its device, and why it was chosen. */
    public record Backend(String name, Device device, String reason) {}

    /** Chosen once; a bad request is kept and reported on every call, not only the first. */
    private static final class Chosen {
        static final Backend BACKEND;
        static final RuntimeException FAILURE;

        static {
            Backend backend = null;
            RuntimeException failure = null;
            try {
                backend = choose();
            } catch (RuntimeException e) {
                failure = e;
            }
            BACKEND = backend;
            FAILURE = failure;
        }
    }

    /** The native library's version, e.g. {@code 0.1.0}. */
    public static String version() {
        NativeLibrary.ensureOpened();
        return nnfuse_h.nf_version().getString(0);
    }

    /** The file the native library was loaded from. */
    public static Path libraryPath() {
        return NativeLibrary.origin().path();
    }

    /** How the native library was found (system property, or extracted from the jar). */
    public static String librarySource() {
        return NativeLibrary.origin().source();
    }

    /** The SIMD features of this CPU that nnfuse can use, e.g. {@code [avx, avx2, fma]}. */
    public static List<String> cpuFeatures() {
        NativeLibrary.ensureOpened();
        int bits = nnfuse_h.nf_cpu_features();
        String[] names = {"sse4.2", "avx", "avx2", "fma", "avx512f"};
        List<String> features = new ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            if ((bits & (1 << i)) != 0) {
                features.add(names[i]);
            }
        }
        return List.copyOf(features);
    }

    /**
     * The SIMD level the CPU kernels run at.
     *
     * @throws NnfuseException when {@code NNFUSE_CPU_LEVEL} names a level this CPU lacks, or no level
     */
    public static CpuLevel cpuLevel() {
        NativeLibrary.ensureLoaded();
        int id = nnfuse_h.nf_cpu_level();
        if (id < 0) {
            throw new NnfuseException(id, nnfuse_h.nf_last_error().getString(0));
        }
        return CpuLevel.ofId(id);
    }

    /**
     * Why the CPU level is what it is, e.g. {@code detected: the widest level this CPU supports}, {@code forced
     * by NNFUSE_CPU_LEVEL} or {@code forced by -Dnnfuse.cpu.level=avx2}.
     */
    public static String cpuLevelReason() {
        NativeLibrary.ensureLoaded();
        String property = NativeLibrary.appliedCpuLevelProperty();
        if (property != null && !cpuLevelSet) {
            return "forced by -D" + CPU_LEVEL_PROPERTY + "=" + property;
        }
        return cpuLevelSet ? "set by Nnfuse.setCpuLevel" : nnfuse_h.nf_cpu_level_reason().getString(0);
    }

    /** Whether this CPU (and this build of the library) can run {@code level}. */
    public static boolean supports(CpuLevel level) {
        Objects.requireNonNull(level, "level");
        NativeLibrary.ensureOpened();
        return nnfuse_h.nf_cpu_level_supported(level.id()) != 0;
    }

    /**
     * Makes every later op run its CPU kernels at {@code level}, for all callers, overriding the property and
     * the environment. Meant for tests and benchmarks that compare levels: an op already running keeps the
     * level it started with.
     *
     * @throws NnfuseException when this CPU lacks {@code level} (nothing changes then)
     */
    public static void setCpuLevel(CpuLevel level) {
        Objects.requireNonNull(level, "level");
        NativeLibrary.ensureLoaded();
        Status.check(nnfuse_h.nf_set_cpu_level(level.id()));
        cpuLevelSet = true;
    }

    /** Threads the kernels use. */
    public static int threads() {
        NativeLibrary.ensureOpened();
        return nnfuse_h.nf_get_num_threads();
    }

    /**
     * Sets the threads the kernels use, for all callers. Results are
     * bit-identical whatever the count.
     */
    public static void setThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        NativeLibrary.ensureOpened();
        Status.check(nnfuse_h.nf_set_num_threads(threads));
    }

    /** Whether the native library was built with the CUDA backend. */
    public static boolean cudaBuilt() {
        NativeLibrary.ensureOpened();
        return nnfuse_h.nf_cuda_built() != 0;
    }

    /**
     * Whether this library's CUDA kernels run on the CPU execution harness (a test build of the same CUDA
     * sources; see native/test/cudaharness) rather than on a GPU.
     */
    public static boolean cudaEmulated() {
        return Cuda.emulated();
    }

    /** The CUDA devices usable now: 0 without the CUDA backend or without a driver and a GPU. */
    public static int cudaDeviceCount() {
        return Cuda.deviceCount();
    }

    /** Why {@link #cudaDeviceCount()} is 0, in CUDA's words where it gave any; empty when it is not 0. */
    public static String cudaUnavailableReason() {
        return Cuda.probe().reason();
    }

    /**
     * Waits until every op and copy enqueued on {@code device} has finished, as
     * {@code torch.cuda.synchronize(device)}; a fault inside a kernel is reported here as an
     * {@link NnfuseException}. Does nothing for the CPU, whose ops finish before they return.
     */
    public static void synchronize(Device device) {
        Objects.requireNonNull(device, "device");
        if (device.isCuda()) {
            Cuda.synchronize(device.index());
        }
    }

    /** The name of CUDA device {@code index}, e.g. {@code NVIDIA H100 80GB HBM3}. */
    public static String cudaDeviceName(int index) {
        int count = cudaDeviceCount();
        if (index < 0 || index >= count) {
            throw new IllegalArgumentException("CUDA device " + index + " does not exist (" + count + " devices)");
        }
        return Cuda.deviceName(index);
    }

    /** The backend chosen for this JVM (see the class comment). */
    public static Backend backend() {
        if (Chosen.FAILURE != null) {
            throw new IllegalStateException(Chosen.FAILURE.getMessage(), Chosen.FAILURE);
        }
        return Chosen.BACKEND;
    }

    private static Backend choose() {
        String property = System.getProperty(BACKEND_PROPERTY);
        String env = System.getenv("NNFUSE_BACKEND");
        String requested = property != null ? property : env;
        String from = property != null ? "-D" + BACKEND_PROPERTY : "NNFUSE_BACKEND";
        if (requested == null || requested.isBlank()) {
            return new Backend("cpu", Device.CPU, "default; the CUDA backend is used only when requested with -D"
                    + BACKEND_PROPERTY + "=cuda or NNFUSE_BACKEND=cuda");
        }
        Device device;
        try {
            device = Device.parse(requested);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "unknown backend '" + requested + "' from " + from + "; expected cpu, cuda or cuda:N", e);
        }
        if (!device.isCuda()) {
            return new Backend("cpu", Device.CPU, "requested by " + from);
        }
        Cuda.Probe probe = Cuda.probe();
        if (device.index() >= probe.count()) {
            throw new IllegalArgumentException("backend " + device + " requested by " + from + ", but "
                    + (probe.count() == 0 ? "there is no CUDA device: " + probe.reason()
                            : "only " + probe.count() + " CUDA devices exist"));
        }
        return new Backend("cuda", device, "requested by " + from + "; " + device + " is "
                + Cuda.deviceName(device.index()));
    }
}
