package nnfuse.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import nnfuse.CpuLevel;
import nnfuse.Nnfuse;

/**
 * Runs the tests of the kernels with per-level code at every {@link CpuLevel}: a test class is a
 * {@code @ParameterizedClass} over the levels that calls {@link #use} before each test and {@link #restore}
 * after it. A level this CPU lacks is skipped by a JUnit assumption, so a machine with AVX-512 tests all
 * three levels and one without tests the others, and both report what they skipped.
 */
public final class CpuLevels {
    /** The level this JVM started at: detected, or forced by {@code NNFUSE_CPU_LEVEL} or the system property. */
    private static final CpuLevel INITIAL = Nnfuse.cpuLevel();

    private CpuLevels() {}

    /**
     * Makes the library run at {@code level}, or skips the test when this CPU lacks it. On the CUDA backend
     * the level changes nothing the test runs, so only the starting level's run is kept.
     */
    public static void use(CpuLevel level) {
        assumeTrue(level == INITIAL || !Nnfuse.backend().device().isCuda(),
                "CPU levels do not apply to the CUDA backend");
        assumeTrue(Nnfuse.supports(level), "this CPU lacks the " + level + " level");
        Nnfuse.setCpuLevel(level);
    }

    /** Returns the library to the level this JVM started at. */
    public static void restore() {
        Nnfuse.setCpuLevel(INITIAL);
    }
}
