package nnfuse;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * The library as a whole: version, where the native code came from, the CPU
 * features it sees, the thread count, and which backend runs ops.
 *
 * <p>The backend is chosen once, at first use: the system property
 * {@value #BACKEND_PROPERTY} (or the environment variable {@code NNFUSE_BACKEND})
 * names it; without either, it is {@code cpu}. A backend that is named but
 * unavailable is an error, never a silent fallback. Thread-safe.
 */
public final class Nnfuse {
    /** System property naming the backend: {@code cpu} or {@code cuda}. */
    public static final String BACKEND_PROPERTY = "nnfuse.backend";

    private Nnfuse() {}

    /** The backend that runs ops, and why it was chosen. */
    public record Backend(String name, String reason) {}

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
        NativeLibrary.ensureLoaded();
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
        NativeLibrary.ensureLoaded();
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

    /** Threads the kernels use. */
    public static int threads() {
        NativeLibrary.ensureLoaded();
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
        NativeLibrary.ensureLoaded();
        Status.check(nnfuse_h.nf_set_num_threads(threads));
    }

    /** Whether the native library was built with the CUDA backend. */
    public static boolean cudaBuilt() {
        NativeLibrary.ensureLoaded();
        return nnfuse_h.nf_cuda_built() != 0;
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
            return new Backend("cpu", "default; the CUDA backend is used only when requested with -D"
                    + BACKEND_PROPERTY + "=cuda or NNFUSE_BACKEND=cuda");
        }
        String name = requested.trim().toLowerCase(Locale.ROOT);
        return switch (name) {
            case "cpu" -> new Backend("cpu", "requested by " + from);
            case "cuda" -> throw new IllegalArgumentException("backend cuda requested by " + from + ", but "
                    + (cudaBuilt() ? "no CUDA kernels exist yet" : "this libnnfuse was built without CUDA"));
            default -> throw new IllegalArgumentException(
                    "unknown backend '" + requested + "' from " + from + "; expected cpu or cuda");
        };
    }
}
