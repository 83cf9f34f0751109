package nnfuse;

import java.util.Locale;

/**
 * The SIMD levels of nnfuse's CPU kernels, each needing the CPU features it names; the library runs at one
 * of them (see {@link Nnfuse#cpuLevel()}).
 *
 * <p>Levels compute the same functions and agree within rounding; the matrix products may differ in the
 * last bits between levels, because {@link #AVX2} and {@link #AVX512} fuse each multiply and add. At every
 * level results are bit-identical whatever the thread count, and dropout masks are the same at every level.
 */
public enum CpuLevel {
    /** Portable C, on any CPU. */
    SCALAR(0),
    /** AVX2 with FMA. */
    AVX2(1),
    /** AVX-512F, with AVX2 and FMA. */
    AVX512(2);

    private final int id;

    CpuLevel(int id) {
        this.id = id;
    }

    /** The level's number in the C ABI ({@code NF_CPU_LEVEL_*}). */
    int id() {
        return id;
    }

    /** The level with ABI number {@code id}. */
    static CpuLevel ofId(int id) {
        for (CpuLevel level : values()) {
            if (level.id == id) {
                return level;
            }
        }
        throw new IllegalArgumentException("no CPU level has number " + id);
    }

    /**
     * The level named {@code name} as {@code NNFUSE_CPU_LEVEL} and {@code -Dnnfuse.cpu.level} spell it:
     * {@code scalar}, {@code avx2} or {@code avx512} (any case).
     *
     * @throws IllegalArgumentException for any other name
     */
    public static CpuLevel of(String name) {
        for (CpuLevel level : values()) {
            if (level.toString().equals(name.trim().toLowerCase(Locale.ROOT))) {
                return level;
            }
        }
        throw new IllegalArgumentException("'" + name + "' is not a CPU level; expected scalar, avx2 or avx512");
    }

    /** The level's name: {@code scalar}, {@code avx2} or {@code avx512}. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
