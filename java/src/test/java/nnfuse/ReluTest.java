package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.stream.IntStream;
import nnfuse.reference.ReluReference;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ReLU forward: native against the reference on awkward sizes, the special values, in place, and bad input.
 *
 * <p>Tolerance: none. {@code max(x, 0)} returns one of its inputs, so no rounding happens and every
 * comparison is exact ({@code atol = rtol = 0}; NaN must match NaN; {@code -0.0} and {@code +0.0} compare
 * equal, as the brief of the op allows either).
 */
class ReluTest {
    private static final Tolerance EXACT = Tolerance.of(0, 0);

    /** The awkward sizes plus sizes past the parallel threshold (2^15) and the chunk (2^14) of the kernel. */
    static IntStream sizes() {
        return IntStream.concat(IntStream.of(TestData.AWKWARD_SIZES), IntStream.of(1 << 15, (1 << 16) + 3));
    }

    @ParameterizedTest(name = "[{0}]")
    @MethodSource("sizes")
    void matchesReference(int n) {
        float[] x = TestData.normal(n, n, 0, 1);
        try (Tensor xt = Tensor.of(x, n); Tensor y = ReluOps.forward(xt)) {
            EXACT.assertClose("relu y [" + n + "]", ReluReference.forward(x), y.toFloatArray());
        }
    }

    /** PyTorch: relu(nan) = nan, relu(-inf) = 0, relu(inf) = inf; subnormals are values like any other. */
    @Test
    void specialValues() {
        float[] x = {Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, -0.0f, 0.0f, -Float.MIN_VALUE,
            Float.MIN_VALUE, -Float.MAX_VALUE, Float.MAX_VALUE, 1.5f, -1.5f};
        double[] expected = {Double.NaN, 0, Double.POSITIVE_INFINITY, 0, 0, 0, Float.MIN_VALUE, 0, Float.MAX_VALUE,
            1.5, 0};
        try (Tensor xt = Tensor.of(x, x.length); Tensor y = ReluOps.forward(xt)) {
            EXACT.assertClose("relu special values", expected, y.toFloatArray());
        }
        EXACT.assertClose("relu reference special values", expected, toFloats(ReluReference.forward(x)));
    }

    @Test
    void inPlace() {
        float[] x = TestData.normal(3, 4097, 0, 1);
        try (Tensor t = Tensor.of(x, 4097)) {
            ReluOps.forward(t, t);
            EXACT.assertClose("relu in place y", ReluReference.forward(x), t.toFloatArray());
        }
    }

    @Test
    void keepsTheShape() {
        float[] x = TestData.normal(4, 2 * 3 * 5, 0, 1);
        try (Tensor xt = Tensor.of(x, 2, 3, 5); Tensor y = ReluOps.forward(xt)) {
            assertArrayEquals(new long[] {2, 3, 5}, y.shape());
            EXACT.assertClose("relu rank-3 y", ReluReference.forward(x), y.toFloatArray());
        }
    }

    @Test
    void sameResultWithOneTwoAndFourThreads() {
        float[] x = TestData.normal(5, (1 << 16) + 3, 0, 1);
        try (Tensor xt = Tensor.of(x, x.length)) {
            List<float[]> runs = Threads.atEachCount(() -> {
                try (Tensor y = ReluOps.forward(xt)) {
                    return y.toFloatArray();
                }
            });
            for (int i = 1; i < runs.size(); i++) {
                Tolerance.assertBitIdentical("relu threads " + Threads.COUNTS[i], runs.get(0), runs.get(i));
            }
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.forward(null)), "x", "null");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.forward(null, x)), "y", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ReluOps.forward(Tensor.zeros(arena, 4, 3), x)), "y", "[3, 4]", "[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ReluOps.forward(Tensor.zeros(arena, 12), x)), "y", "[3, 4]", "[12]");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.forward(labels)),
                    "x", "float32", "int64[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ReluOps.forward(labels, x)), "y", "float32", "int64[3, 4]");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> ReluOps.forward(closed)), "x", "closed");
            assertMessage(assertThrows(IllegalStateException.class, () -> ReluOps.forward(closed, x)),
                    "y", "closed");
        }
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
