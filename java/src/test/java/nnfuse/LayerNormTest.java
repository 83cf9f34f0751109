package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.stream.Stream;
import nnfuse.reference.LayerNormReference;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LayerNorm forward: the worksheet's example, native against the double
 * reference on awkward shapes, accuracy under a large mean, and bad input.
 *
 * <p>Tolerances: y is a float32 rounding of (x - mean) * rstd * gamma + beta,
 * where the kernel's mean and rstd carry one float rounding each (the moments
 * are summed in double); a few ulps of |y| plus a few ulps of the largest term
 * bound the error, so atol 1e-5 + rtol 1e-5 leaves a wide margin on N(0, 1) data.
 * The saved statistics are single roundings of double values: rtol 1e-6.
 */
class LayerNormTest {
    private static final Tolerance Y = Tolerance.of(1e-5, 1e-5);
    private static final Tolerance STATS = Tolerance.of(1e-6, 1e-6);

    /** Discussion 04, section 2(a), eps = 0; expected values are the exact closed forms. */
    @Test
    void worksheetSection2Example() {
        double s3 = Math.sqrt(3);
        double[] expected = {
            -1, -3, 4, 4,
            -1, -2.0 / 3 - 1, -1 + 1, 4 * 5.0 / 3,
            -1 / s3, -2 / s3 - 1, -3 / s3 + 1, 4 * 3 / s3,
        };
        try (Tensor x = Tensor.of(new float[] {4, 4, 8, 8, 0, 2, 2, 8, 1, 1, 1, 5}, 3, 4);
                Tensor gamma = Tensor.of(new float[] {1, 2, 3, 4}, 4);
                Tensor beta = Tensor.of(new float[] {0, -1, 1, 0}, 4);
                Tensor mean = Tensor.zeros(3);
                Tensor rstd = Tensor.zeros(3);
                Tensor y = Tensor.zeros(3, 4)) {
            LayerNormOps.forward(y, mean, rstd, x, gamma, beta, 0f);
            Tolerance.of(1e-6, 2e-7).assertClose("layerNorm worksheet y", expected, y.toFloatArray());
            Tolerance.of(0, 0).assertClose("layerNorm worksheet mean", new double[] {6, 3, 2}, mean.toFloatArray());
            Tolerance.of(0, 1e-7).assertClose("layerNorm worksheet rstd",
                    new double[] {0.5, 1.0 / 3, 1 / s3}, rstd.toFloatArray());
        }
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int cols : TestData.AWKWARD_SIZES) {
            b.add(Arguments.of(1, cols));
            b.add(Arguments.of(7, cols));
        }
        b.add(Arguments.of(129, 33));
        b.add(Arguments.of(1031, 257));
        b.add(Arguments.of(64, 1024));
        return b.build();
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void matchesReference(int rows, int cols) {
        long seed = 31L * rows + cols;
        float[] x = TestData.normal(seed, rows * cols, 0.5, 2.0);
        float[] gamma = TestData.normal(seed + 1, cols, 1.0, 0.5);
        float[] beta = TestData.normal(seed + 2, cols, 0.0, 0.5);
        compare(rows, cols, x, gamma, beta, 1e-5f, Y);
    }

    @Test
    void withoutAffineParameters() {
        float[] x = TestData.normal(5, 33 * 129, 0, 1);
        compare(33, 129, x, null, null, 1e-5f, Y);
        compare(33, 129, x, TestData.normal(6, 129, 1, 1), null, 1e-5f, Y);
    }

    /** Mean 1e4, spread 1: E[x^2] - E[x]^2 in float would lose every digit of the variance here. */
    @Test
    void largeMeanSmallSpread() {
        int rows = 16;
        int cols = 1000;
        float[] x = TestData.normal(7, rows * cols, 1e4, 1.0);
        compare(rows, cols, x, null, null, 0f, Tolerance.of(2e-5, 2e-5));
    }

    @Test
    void constantRowGivesBetaWithPositiveEps() {
        try (Tensor x = Tensor.of(new float[] {3, 3, 3, 3, 3}, 1, 5);
                Tensor beta = Tensor.of(new float[] {1, 2, 3, 4, 5}, 5)) {
            try (Tensor y = LayerNormOps.forward(x, null, beta, 1e-5f)) {
                Tolerance.of(0, 0).assertClose("layerNorm constant row", new double[] {1, 2, 3, 4, 5},
                        y.toFloatArray());
            }
            try (Tensor y = LayerNormOps.forward(x, null, null, 0f)) {
                assertTrue(Float.isNaN(y.get(0, 0)), "0/0 with eps = 0 is NaN, as in PyTorch");
            }
        }
    }

    @Test
    void inPlace() {
        float[] data = TestData.normal(9, 7 * 31, 0, 1);
        LayerNormReference.Forward ref = LayerNormReference.forward(data, null, null, 7, 31, 1e-5);
        try (Tensor x = Tensor.of(data, 7, 31)) {
            LayerNormOps.forward(x, null, null, x, null, null, 1e-5f);
            Y.assertClose("layerNorm in place y", ref.y(), x.toFloatArray());
        }
    }

    @Test
    void higherRankNormalizesTheLastDimension() {
        float[] data = TestData.normal(11, 2 * 3 * 5, 0, 1);
        LayerNormReference.Forward ref = LayerNormReference.forward(data, null, null, 6, 5, 1e-5);
        try (Tensor x = Tensor.of(data, 2, 3, 5); Tensor y = LayerNormOps.forward(x, null, null, 1e-5f)) {
            assertEquals(3, y.rank());
            Y.assertClose("layerNorm rank-3 y", ref.y(), y.toFloatArray());
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            Tensor y = Tensor.zeros(arena, 3, 4);
            Tensor gamma5 = Tensor.zeros(arena, 5);
            Tensor rows2 = Tensor.zeros(arena, 2);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(x, gamma5, null, 1e-5f)), "gamma", "[4]", "[5]", "[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(x, null, gamma5, 1e-5f)), "beta", "[5]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(y, rows2, null, x, null, null, 1e-5f)), "mean", "[3]", "[2]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(x, null, null, -1f)), "eps", "-1");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(x, null, null, Float.NaN)), "eps", "NaN");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(Tensor.zeros(arena, 4, 3), null, null, x, null, null, 1e-5f)),
                    "y", "[3, 4]", "[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(null, null, null, 1e-5f)), "x", "null");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LayerNormOps.forward(labels, null, null, 1e-5f)), "x", "float32", "int64[3, 4]");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> LayerNormOps.forward(closed, null, null, 1e-5f)), "x", "closed");
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> LayerNormOps.forward(closed, null, null, x, null, null, 1e-5f)), "y", "closed");
        }
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(0, 4)), "[0, 4]");
    }

    @Test
    void closedArenaIsDetected() {
        Tensor x;
        try (Arena arena = Arena.ofConfined()) {
            x = Tensor.zeros(arena, 2, 2);
        }
        assertMessage(assertThrows(IllegalStateException.class, () -> LayerNormOps.forward(x, null, null, 0f)),
                "arena", "closed");
    }

    private static void compare(int rows, int cols, float[] x, float[] gamma, float[] beta, float eps,
            Tolerance tol) {
        LayerNormReference.Forward ref = LayerNormReference.forward(x, gamma, beta, rows, cols, eps);
        try (Tensor xt = Tensor.of(x, rows, cols);
                Tensor g = gamma == null ? null : Tensor.of(gamma, cols);
                Tensor b = beta == null ? null : Tensor.of(beta, cols);
                Tensor y = Tensor.zeros(rows, cols);
                Tensor mean = Tensor.zeros(rows);
                Tensor rstd = Tensor.zeros(rows)) {
            LayerNormOps.forward(y, mean, rstd, xt, g, b, eps);
            String shape = "[" + rows + "x" + cols + "]";
            tol.assertClose("layerNorm y " + shape, ref.y(), y.toFloatArray());
            STATS.assertClose("layerNorm mean " + shape, ref.mean(), mean.toFloatArray());
            STATS.assertClose("layerNorm rstd " + shape, ref.rstd(), rstd.toFloatArray());
        }
    }
}
