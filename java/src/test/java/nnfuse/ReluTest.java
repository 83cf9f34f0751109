package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.util.stream.IntStream;
import nnfuse.reference.ReluReference;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ReLU forward and backward: native against the reference on awkward sizes, the special values, in place,
 * threads and bad input; the reference backward against finite differences.
 *
 * <p>Tolerance: none for the native ops. {@code max(x, 0)} returns one of its inputs and the backward pass
 * returns {@code dy} or 0, so no rounding happens and every comparison is exact ({@code atol = rtol = 0}; NaN
 * must match NaN; {@code -0.0} and {@code +0.0} compare equal, as the brief of the op allows either). The
 * reference backward is checked against central differences with {@link FiniteDifferences#SCALED_TOLERANCE}, on
 * inputs at least 0.1 away from the kink at 0, where ReLU is linear within the step.
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
            Threads.assertSameAtEachCount("relu", () -> {
                try (Tensor y = ReluOps.forward(xt)) {
                    return y.toFloatArray();
                }
            });
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

    @Test
    void referenceBackwardMatchesFiniteDifferences() {
        for (int[] shape : TestData.smallShapes(17, 6)) {
            int n = shape[0] * shape[1];
            double[] x = TestData.widen(TestData.uniform(shape[1], n, 0.1, 2));
            float[] signs = TestData.uniform(shape[0], n, -1, 1);
            for (int i = 0; i < n; i++) {
                x[i] = signs[i] < 0 ? -x[i] : x[i];
            }
            float[] dy = TestData.normal(n, n, 0, 1);
            double[] fd = FiniteDifferences.gradientScaled(v -> FiniteDifferences.dot(dy, ReluReference.forward(v)), x);
            FiniteDifferences.SCALED_TOLERANCE.assertClose("relu ref vs finite diff dx", fd,
                    ReluReference.backward(TestData.widen(dy), ReluReference.forward(x)));
        }
    }

    @ParameterizedTest(name = "[{0}]")
    @MethodSource("sizes")
    void backwardMatchesReference(int n) {
        float[] x = TestData.normal(n + 1, n, 0, 1);
        float[] dy = TestData.normal(n + 2, n, 0, 1);
        try (Tensor xt = Tensor.of(x, n); Tensor y = ReluOps.forward(xt); Tensor dyt = Tensor.of(dy, n);
                Tensor dx = ReluOps.backward(dyt, y)) {
            EXACT.assertClose("relu backward dx [" + n + "]",
                    ReluReference.backward(TestData.widen(dy), TestData.widen(y.toFloatArray())), dx.toFloatArray());
        }
    }

    /** PyTorch's threshold_backward: 0 where y <= 0 (either zero, -inf), dy elsewhere, NaN y included. */
    @Test
    void backwardSpecialValues() {
        float[] y = {Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, -0.0f, 0.0f, Float.MIN_VALUE, 1.5f,
            2f, -3f};
        float[] dy = {2, 3, 4, 5, 6, 7, 8, Float.NaN, Float.NaN};
        double[] expected = {2, 0, 4, 0, 0, 7, 8, Double.NaN, 0};
        try (Tensor yt = Tensor.of(y, y.length); Tensor dyt = Tensor.of(dy, dy.length);
                Tensor dx = ReluOps.backward(dyt, yt)) {
            EXACT.assertClose("relu backward special values", expected, dx.toFloatArray());
        }
        EXACT.assertClose("relu reference backward special values", expected,
                toFloats(ReluReference.backward(TestData.widen(dy), TestData.widen(y))));
    }

    @Test
    void backwardInPlace() {
        float[] y = toFloats(ReluReference.forward(TestData.normal(6, 4097, 0, 1)));
        float[] dy = TestData.normal(7, 4097, 0, 1);
        double[] expected = ReluReference.backward(TestData.widen(dy), TestData.widen(y));
        try (Tensor yt = Tensor.of(y, 4097); Tensor g = Tensor.of(dy, 4097)) {
            ReluOps.backward(g, g, yt);
            EXACT.assertClose("relu backward in place dx", expected, g.toFloatArray());
        }
    }

    @Test
    void backwardSameResultWithOneTwoAndFourThreads() {
        int n = (1 << 16) + 3;
        try (Tensor x = Tensor.of(TestData.normal(8, n, 0, 1), n); Tensor y = ReluOps.forward(x);
                Tensor dy = Tensor.of(TestData.normal(9, n, 0, 1), n)) {
            Threads.assertSameAtEachCount("relu backward", () -> {
                try (Tensor dx = ReluOps.backward(dy, y)) {
                    return dx.toFloatArray();
                }
            });
        }
    }

    @Test
    void backwardBadArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor y = Tensor.zeros(arena, 3, 4);
            Tensor dy = Tensor.zeros(arena, 3, 4);
            Tensor dx = Tensor.zeros(arena, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.backward(dy, null)), "y", "null");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.backward(null, y)), "dy", "null");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.backward(null, dy, y)),
                    "dx", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ReluOps.backward(Tensor.zeros(arena, 4, 3), y)), "reluBackward", "dy", "[3, 4]", "[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ReluOps.backward(Tensor.zeros(arena, 12), dy, y)), "dx", "[3, 4]", "[12]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.backward(y, dy, y)),
                    "dx", "y", "same tensor", "[3, 4]");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.backward(labels, y)),
                    "dy", "float32", "int64[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ReluOps.backward(dx, dy, labels)),
                    "y", "float32", "int64[3, 4]");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> ReluOps.backward(dy, closed)),
                    "y", "closed");
            assertMessage(assertThrows(IllegalStateException.class, () -> ReluOps.backward(closed, dy, y)),
                    "dx", "closed");
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
