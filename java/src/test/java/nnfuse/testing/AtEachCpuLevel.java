package nnfuse.testing;

import nnfuse.CpuLevel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The base of the test classes of kernels with per-level code: every test of a subclass runs once at each
 * {@link CpuLevel} (see {@link CpuLevels}, which skips the levels this CPU lacks). {@code @ParameterizedClass}
 * is inherited, so a subclass only extends this class.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(CpuLevel.class)
public abstract class AtEachCpuLevel {
    /** The level every test of the class runs at. */
    @Parameter
    protected CpuLevel level;

    @BeforeEach
    public final void atLevel() {
        CpuLevels.use(level);
    }

    @AfterEach
    public final void restoreLevel() {
        CpuLevels.restore();
    }
}
