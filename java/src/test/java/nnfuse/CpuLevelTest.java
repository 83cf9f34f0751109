package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import nnfuse.testing.CpuLevels;
import nnfuse.testing.PrintCpuLevel;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The CPU level: how it is chosen (detected, {@code NNFUSE_CPU_LEVEL}, {@code -Dnnfuse.cpu.level},
 * {@link Nnfuse#setCpuLevel}), that a level the CPU lacks is an error rather than a fallback, and what every
 * level must compute bit for bit alike: LayerNorm and BatchNorm (the same operations in the same order at
 * every level), dropout masks (integer arithmetic) and packed weights (data movement). The matrix products
 * may differ in the last bits between levels; the test classes of the families run their comparisons with
 * the reference at each level ({@link CpuLevels}). The environment and the property are read once per JVM,
 * so those cases run {@link PrintCpuLevel} in a JVM of their own.
 *
 * <p>No tolerances: every comparison here is exact.
 */
class CpuLevelTest {
    @AfterEach
    void restoreLevel() {
        CpuLevels.restore();
    }

    @Test
    void namesAreThoseOfTheEnvironmentVariable() {
        assertEquals(List.of("scalar", "avx2", "avx512"),
                Arrays.stream(CpuLevel.values()).map(String::valueOf).toList());
        assertEquals(CpuLevel.AVX2, CpuLevel.of(" AVX2 "));
        assertMessage(assertThrows(IllegalArgumentException.class, () -> CpuLevel.of("sse2")), "'sse2'", "scalar",
                "avx2", "avx512");
    }

    @Test
    void setCpuLevelChangesTheLevelAndItsReason() {
        assertEquals(true, Nnfuse.supports(CpuLevel.SCALAR));
        Nnfuse.setCpuLevel(CpuLevel.SCALAR);
        assertEquals(CpuLevel.SCALAR, Nnfuse.cpuLevel());
        assertEquals("set by Nnfuse.setCpuLevel", Nnfuse.cpuLevelReason());
    }

    /** Asking for a level this CPU lacks fails and changes nothing: the library never falls back silently. */
    @Test
    void aLevelTheCpuLacksIsAnError() {
        CpuLevel missing = missingLevel();
        CpuLevel before = Nnfuse.cpuLevel();
        assertMessage(assertThrows(NnfuseException.class, () -> Nnfuse.setCpuLevel(missing)), missing.toString(),
                "lacks");
        assertEquals(before, Nnfuse.cpuLevel());
    }

    @Test
    void theWidestSupportedLevelIsDetected() throws IOException, InterruptedException {
        CpuLevel widest = Arrays.stream(CpuLevel.values()).filter(Nnfuse::supports).reduce((a, b) -> b).orElseThrow();
        assertEquals(List.of(widest + " (detected: the widest level this CPU supports)", "op ok"),
                runPrintCpuLevel(null, null));
    }

    @Test
    void theEnvironmentVariableForcesALevel() throws IOException, InterruptedException {
        assertEquals(List.of("scalar (forced by NNFUSE_CPU_LEVEL)", "op ok"), runPrintCpuLevel("scalar", null));
    }

    /** The property wins over the environment, as a command line's explicit setting should. */
    @Test
    void theSystemPropertyForcesALevel() throws IOException, InterruptedException {
        assertEquals(List.of("scalar (forced by -Dnnfuse.cpu.level=scalar)", "op ok"),
                runPrintCpuLevel("avx512", "scalar"));
    }

    @Test
    void anUnknownOrMissingLevelFailsEveryOp() throws IOException, InterruptedException {
        List<String> unknown = runPrintCpuLevel("sse9", null);
        assertMessage(unknown.get(0), "error: ", "NNFUSE_CPU_LEVEL=sse9 is not a level", "scalar, avx2 or avx512");
        assertMessage(unknown.get(1), "op error: ", "nf_linear_fwd_f32", "NNFUSE_CPU_LEVEL=sse9");
        List<String> badProperty = runPrintCpuLevel(null, "fast");
        assertMessage(badProperty.get(0), "error: ", "-Dnnfuse.cpu.level=fast is not a CPU level");
        assertMessage(badProperty.get(1), "op error: ", "-Dnnfuse.cpu.level=fast");
        CpuLevel missing = missingLevel();
        List<String> lacking = runPrintCpuLevel(missing.toString(), null);
        assertMessage(lacking.get(0), "error: ", "NNFUSE_CPU_LEVEL=" + missing, "this CPU lacks");
        assertMessage(lacking.get(1), "op error: ", "this CPU lacks");
        assertMessage(runPrintCpuLevel(null, missing.toString()).get(1), "op error: ",
                "-Dnnfuse.cpu.level=" + missing, "lacks");
    }

    @Test
    void layerNormIsTheSameAtEveryLevel() {
        for (int cols : new int[] {1, 7, 16, 31, 33, 129, 4097}) {
            float[] x = TestData.normal(cols, 5 * cols, 3, 2);
            float[] gamma = TestData.normal(cols + 1, cols, 1, 0.5);
            float[] beta = TestData.normal(cols + 2, cols, 0, 0.5);
            assertSameAtEveryLevel("layerNorm [5x" + cols + "]", () -> {
                try (Tensor xt = Tensor.of(x, 5, cols); Tensor g = Tensor.of(gamma, cols);
                        Tensor b = Tensor.of(beta, cols); Tensor y = Tensor.zeros(5, cols); Tensor mean = Tensor.zeros(5);
                        Tensor rstd = Tensor.zeros(5)) {
                    LayerNormOps.forward(y, mean, rstd, xt, g, b, LayerNormOps.DEFAULT_EPS);
                    return new float[][] {y.toFloatArray(), mean.toFloatArray(), rstd.toFloatArray()};
                }
            });
        }
    }

    @Test
    void batchNormIsTheSameAtEveryLevel() {
        for (int[] nc : new int[][] {{2, 1}, {7, 33}, {129, 257}, {300, 31}}) {
            int n = nc[0];
            int c = nc[1];
            float[] x = TestData.normal(n + c, n * c, -2, 3);
            assertSameAtEveryLevel("batchNorm [" + n + "x" + c + "]", () -> {
                try (Tensor xt = Tensor.of(x, n, c); Tensor y = Tensor.zeros(n, c); Tensor mean = Tensor.zeros(c);
                        Tensor rstd = Tensor.zeros(c); Tensor runningMean = Tensor.zeros(c);
                        Tensor runningVar = Tensor.zeros(c).fill(1); Tensor eval = Tensor.zeros(n, c)) {
                    BatchNormOps.forwardTraining(y, mean, rstd, runningMean, runningVar, xt, null, null,
                            BatchNormOps.DEFAULT_EPS, BatchNormOps.DEFAULT_MOMENTUM);
                    BatchNormOps.forwardEval(eval, xt, runningMean, runningVar, null, null, BatchNormOps.DEFAULT_EPS);
                    return new float[][] {y.toFloatArray(), mean.toFloatArray(), rstd.toFloatArray(),
                        runningMean.toFloatArray(), runningVar.toFloatArray(), eval.toFloatArray()};
                }
            });
        }
    }

    /** The Philox words are integer arithmetic: every level draws the same mask, across 2^32 blocks too. */
    @Test
    void dropoutMasksAreTheSameAtEveryLevel() {
        for (long offset : new long[] {0, 3, (1L << 34) - 50, -70_001L}) {
            for (float p : new float[] {0.1f, 0.5f, 0.999f}) {
                assertSameAtEveryLevel("dropout mask offset " + offset + " p " + p, () -> {
                    try (Tensor mask = DropoutOps.mask(new long[] {70_001}, p, 0x9E3779B97F4A7C15L, offset)) {
                        return new float[][] {mask.toFloatArray()};
                    }
                });
            }
        }
    }

    @Test
    void packedWeightsAreTheSameAtEveryLevel() {
        for (int[] shape : new int[][] {{1, 1}, {16, 8}, {17, 9}, {33, 129}, {128, 52}}) {
            float[] w = TestData.normal(shape[0] * 31L + shape[1], shape[0] * shape[1], 0, 1);
            assertSameAtEveryLevel("packed " + Arrays.toString(shape), () -> {
                try (Tensor wt = Tensor.of(w, shape[0], shape[1]); PackedWeight packed = PackedWeight.of(wt)) {
                    return new float[][] {packed.tensor("test").toFloatArray()};
                }
            });
        }
    }

    /** Runs {@code compute} at every level this CPU supports and asserts each gives the scalar level's bits. */
    private static void assertSameAtEveryLevel(String what, Supplier<float[][]> compute) {
        Nnfuse.setCpuLevel(CpuLevel.SCALAR);
        float[][] scalar = compute.get();
        for (CpuLevel level : CpuLevel.values()) {
            if (level == CpuLevel.SCALAR || !Nnfuse.supports(level)) {
                continue;
            }
            Nnfuse.setCpuLevel(level);
            float[][] other = compute.get();
            for (int i = 0; i < scalar.length; i++) {
                Tolerance.assertBitIdentical(what + " output " + i + " at " + level, scalar[i], other[i]);
            }
        }
    }

    /** A level this CPU lacks; the test that needs one is skipped on a CPU that has them all. */
    private static CpuLevel missingLevel() {
        CpuLevel missing = Arrays.stream(CpuLevel.values()).filter(l -> !Nnfuse.supports(l)).findFirst().orElse(null);
        assumeTrue(missing != null, "this CPU supports every level");
        return missing;
    }

    /** The two lines PrintCpuLevel prints in a new JVM with NNFUSE_CPU_LEVEL and -Dnnfuse.cpu.level (null: unset). */
    private static List<String> runPrintCpuLevel(String environment, String property)
            throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path")));
        if (property != null) {
            command.add("-D" + Nnfuse.CPU_LEVEL_PROPERTY + "=" + property);
        }
        command.add(PrintCpuLevel.class.getName());
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> env = builder.environment();
        env.remove("NNFUSE_CPU_LEVEL");
        if (environment != null) {
            env.put("NNFUSE_CPU_LEVEL", environment);
        }
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, process.waitFor(), output);
        return output.lines().toList();
    }
}
