package nnfuse.benchmarks;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * OpenBLAS, the peer the fused Linear is measured against. The Maven artifact {@code org.bytedeco:openblas}
 * brings the library for this platform and JavaCPP's {@link Loader} extracts and loads it; the calls then go
 * through FFM downcall handles, the path nnfuse's own ops take, so that a comparison of the two measures the
 * kernels and not two different call mechanisms (JavaCPP's JNI wrappers would also need its pointer types).
 *
 * <p>The machines pin OpenBLAS to an older kernel with {@code OPENBLAS_CORETYPE} and {@code OPENBLAS_L2_SIZE};
 * a process that compares with it must run without them (the launcher's {@code bench} command removes them) so
 * that OpenBLAS picks its best kernel for the CPU, which {@link #coreName()} reports.
 */
final class OpenBlas {
    /** CBLAS's enum values (cblas.h): row-major storage, and whether an operand is transposed. */
    private static final int ROW_MAJOR = 101;
    private static final int NO_TRANS = 111;
    private static final int TRANS = 112;

    private static final MethodHandle SGEMM;
    private static final MethodHandle SET_NUM_THREADS;
    private static final MethodHandle GET_NUM_THREADS;
    private static final MethodHandle GET_CORENAME;
    private static final MethodHandle GET_CONFIG;

    static {
        Loader.load(openblas_nolapack.class);
        // dlopen by soname finds the copy JavaCPP has just loaded.
        SymbolLookup lib = SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global());
        Linker linker = Linker.nativeLinker();
        ValueLayout i32 = ValueLayout.JAVA_INT;
        ValueLayout f32 = ValueLayout.JAVA_FLOAT;
        ValueLayout ptr = ValueLayout.ADDRESS;
        SGEMM = linker.downcallHandle(lib.findOrThrow("cblas_sgemm"), FunctionDescriptor.ofVoid(
                i32, i32, i32, i32, i32, i32, f32, ptr, i32, ptr, i32, f32, ptr, i32));
        SET_NUM_THREADS = linker.downcallHandle(lib.findOrThrow("openblas_set_num_threads"),
                FunctionDescriptor.ofVoid(i32));
        GET_NUM_THREADS = linker.downcallHandle(lib.findOrThrow("openblas_get_num_threads"),
                FunctionDescriptor.of(i32));
        GET_CORENAME = linker.downcallHandle(lib.findOrThrow("openblas_get_corename"), FunctionDescriptor.of(ptr));
        GET_CONFIG = linker.downcallHandle(lib.findOrThrow("openblas_get_config"), FunctionDescriptor.of(ptr));
    }

    private OpenBlas() {}

    /**
     * {@code c[m, n] = a[m, k] b[n, k]^T}, the product of nnfuse's Linear ({@code y = x W^T}, weight in
     * PyTorch's {@code [out, in]} layout): {@code cblas_sgemm(RowMajor, NoTrans, Trans, ...)}.
     */
    static void sgemmNT(MemorySegment c, MemorySegment a, MemorySegment b, int m, int n, int k) {
        try {
            SGEMM.invokeExact(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, 1f, a, k, b, k, 0f, c, n);
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_sgemm failed", t);
        }
    }

    /** Sets the threads OpenBLAS uses for every later call. */
    static void setThreads(int threads) {
        try {
            SET_NUM_THREADS.invokeExact(threads);
        } catch (Throwable t) {
            throw new IllegalStateException("openblas_set_num_threads failed", t);
        }
    }

    /** The threads OpenBLAS uses. */
    static int threads() {
        try {
            return (int) GET_NUM_THREADS.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("openblas_get_num_threads failed", t);
        }
    }

    /** The kernel OpenBLAS chose for this CPU (e.g. {@code Zen}, {@code Haswell}, {@code SkylakeX}). */
    static String coreName() {
        return string(GET_CORENAME, "openblas_get_corename");
    }

    /** The build configuration: version, build options, kernel, maximum threads. */
    static String config() {
        return string(GET_CONFIG, "openblas_get_config");
    }

    private static String string(MethodHandle function, String name) {
        try {
            MemorySegment s = (MemorySegment) function.invokeExact();
            return s.reinterpret(Integer.MAX_VALUE).getString(0).strip();
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
    }

    /** Prints the kernel, for the launcher to compare with and without the machine's OpenBLAS settings. */
    public static void main(String[] args) {
        System.out.println(coreName());
    }
}
