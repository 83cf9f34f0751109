package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.reference.ArgmaxReference;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Argmax: the worksheet's prediction shape, ties, NaN and infinities, native
 * against the reference on awkward shapes, determinism, and bad input.
 *
 * <p>Tolerances: none; indices are compared exactly.
 */
class ArgmaxTest {
    /** Discussion 04, section 1(a): logits z10 [4, 1000] give predictions z11 [4, 1]; the maxima are planted. */
    @Test
    void worksheetPredictionShape() {
        int n = 4;
        int classes = 1000;
        float[] logits = TestData.uniform(1, n * classes, -5, 5);
        long[] planted = {0, 999, 512, 7};
        for (int r = 0; r < n; r++) {
            logits[r * classes + (int) planted[r]] = 6;
        }
        try (Tensor z10 = Tensor.of(logits, n, classes); Tensor z11 = ArgmaxOps.forward(z10)) {
            assertArrayEquals(new long[] {4, 1}, z11.shape());
            Tolerance.assertExact("argmax worksheet z11", planted, z11.toLongArray());
        }
    }

    /** torch.argmax: first index on ties (0 and -0 tie), the first NaN wins, a row of -inf gives 0. */
    @Test
    void tiesNaNAndInfinities() {
        float nan = Float.NaN;
        float inf = Float.POSITIVE_INFINITY;
        float[] x = {
            1, 3, 3, 2,
            -0f, 0f, -1, -2,
            1, nan, 5, nan,
            -inf, -inf, -inf, -inf,
            0, inf, 7, inf,
            nan, nan, nan, inf,
        };
        long[] expected = {1, 0, 1, 0, 1, 0};
        try (Tensor xt = Tensor.of(x, 6, 4); Tensor index = ArgmaxOps.forward(xt)) {
            Tolerance.assertExact("argmax ties and NaN", expected, index.toLongArray());
        }
        Tolerance.assertExact("argmax reference ties and NaN", expected, ArgmaxReference.argmax(x, 6, 4));
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int n : TestData.AWKWARD_SIZES) {
            b.add(Arguments.of(1, n));
            b.add(Arguments.of(7, n));
            b.add(Arguments.of(n, 3));
            b.add(Arguments.of(n, 33));
        }
        b.add(Arguments.of(129, 4097));
        return b.build();
    }

    /** Coarse integer-valued logits make ties common, so first-occurrence is exercised everywhere. */
    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void matchesReference(int rows, int cols) {
        float[] x = TestData.uniform(17L * rows + cols, rows * cols, -8, 8);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.floor(x[i]);
        }
        try (Tensor xt = Tensor.of(x, rows, cols); Tensor index = ArgmaxOps.forward(xt)) {
            Tolerance.assertExact("argmax [" + rows + "x" + cols + "]", ArgmaxReference.argmax(x, rows, cols),
                    index.toLongArray());
        }
    }

    @Test
    void higherRankKeepsTheLeadingDimensions() {
        float[] x = TestData.normal(19, 2 * 3 * 5, 0, 1);
        try (Tensor xt = Tensor.of(x, 2, 3, 5); Tensor index = ArgmaxOps.forward(xt)) {
            assertArrayEquals(new long[] {2, 3, 1}, index.shape());
            Tolerance.assertExact("argmax rank-3", ArgmaxReference.argmax(x, 6, 5), index.toLongArray());
        }
        try (Tensor xt = Tensor.of(new float[] {1, 4, 2}, 3); Tensor index = ArgmaxOps.forward(xt)) {
            assertArrayEquals(new long[] {1}, index.shape());
            Tolerance.assertExact("argmax rank-1", new long[] {1}, index.toLongArray());
        }
    }

    /** 129 x 4097 is far above the parallel threshold. */
    @Test
    void deterministicAcrossThreadCounts() {
        try (Tensor x = Tensor.of(TestData.normal(23, 129 * 4097, 0, 1), 129, 4097)) {
            List<long[]> results = Threads.atEachCount(() -> {
                try (Tensor index = ArgmaxOps.forward(x)) {
                    return index.toLongArray();
                }
            });
            for (int i = 1; i < results.size(); i++) {
                Tolerance.assertExact("argmax threads " + Threads.COUNTS[i], results.get(0), results.get(i));
            }
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ArgmaxOps.forward(null)),
                    "argmax", "x", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ArgmaxOps.forward(Tensor.zeros(arena, DType.INT64, 3, 4))), "x", "float32", "int64[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ArgmaxOps.forward(null, x)),
                    "index", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ArgmaxOps.forward(Tensor.zeros(arena, 3, 1), x)), "index", "int64", "float32[3, 1]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ArgmaxOps.forward(Tensor.zeros(arena, DType.INT64, 3), x)), "index", "[3, 1]", "[3]",
                    "[3, 4]");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> ArgmaxOps.forward(closed)), "x", "closed");
        }
    }
}
