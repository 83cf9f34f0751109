package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import nnfuse.reference.L2Reference;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The L2 penalty: exact closed forms, native against the double reference on
 * awkward sizes and across chunk boundaries, determinism, and bad input.
 *
 * <p>Tolerances: both sides sum exact squares in double, in different orders
 * (eight lanes in fixed chunks against one running sum); every term is
 * positive, so each order is within {@code n * 2^-53} relative of the exact sum
 * and typically within {@code sqrt(n) * 2^-53}: rtol 1e-14 scaled by
 * {@link Tolerance#forReduction} leaves a margin of about 100 on the typical case.
 * Closed forms on small integers are exact in double and are compared exactly.
 */
class L2Test {
    private static final Tolerance SUM = Tolerance.of(0, 1e-14);

    /** sum_{k=1..n} k^2 = n (n + 1) (2n + 1) / 6, exact in double here; and lambda * ||theta||^2 on two tensors. */
    @Test
    void closedForms() {
        int n = 100_000;
        float[] k = new float[n];
        for (int i = 0; i < n; i++) {
            k[i] = i + 1;
        }
        try (Tensor t = Tensor.of(k, 400, 250)) {
            assertEquals((double) n * (n + 1) * (2L * n + 1) / 6, L2Ops.sumOfSquares(t));
        }
        try (Tensor a = Tensor.of(new float[] {1, 2, 3}, 3); Tensor b = Tensor.of(new float[] {4, -0.5f}, 2, 1)) {
            assertEquals(0.5 * (14 + 16.25), L2Ops.penalty(0.5, List.of(a, b)));
            assertEquals(0.0, L2Ops.penalty(0, List.of(a, b)));
            assertEquals(0.0, L2Ops.penalty(3, List.of()));
        }
    }

    /** Squares of 1e20 overflow float but not the double accumulator. */
    @Test
    void largeValuesDoNotOverflow() {
        try (Tensor t = Tensor.of(new float[] {1e20f, -1e20f, 3e38f}, 3)) {
            double e20 = 1e20f;
            double big = 3e38f;
            SUM.assertClose("l2 large values", new double[] {2 * e20 * e20 + big * big},
                    new double[] {L2Ops.sumOfSquares(t)});
        }
    }

    static IntStream sizes() {
        int chunk = 1 << 15;
        return IntStream.concat(Arrays.stream(TestData.AWKWARD_SIZES),
                IntStream.of(chunk - 1, chunk, chunk + 1, 3 * chunk + 5, 1_000_003));
    }

    @ParameterizedTest(name = "n = {0}")
    @MethodSource("sizes")
    void matchesReference(int n) {
        float[] x = TestData.normal(29L + n, n, 0.1, 2);
        try (Tensor t = Tensor.of(x, n)) {
            SUM.forReduction(n).assertClose("l2 sumOfSquares [" + n + "]", new double[] {L2Reference.sumOfSquares(x)},
                    new double[] {L2Ops.sumOfSquares(t)});
        }
    }

    @Test
    void penaltyMatchesReference() {
        List<float[]> data = new ArrayList<>();
        List<Tensor> tensors = new ArrayList<>();
        int total = 0;
        try {
            for (int n : TestData.AWKWARD_SIZES) {
                float[] x = TestData.normal(31L * n, n, 0, 1);
                data.add(x);
                tensors.add(Tensor.of(x, n));
                total += n;
            }
            SUM.forReduction(total).assertClose("l2 penalty", new double[] {L2Reference.penalty(1e-4, data)},
                    new double[] {L2Ops.penalty(1e-4, tensors)});
        } finally {
            tensors.forEach(Tensor::close);
        }
    }

    /** 1,000,003 elements span 31 chunks: the split across threads must not change a bit. */
    @Test
    void deterministicAcrossThreadCounts() {
        int n = 1_000_003;
        try (Tensor t = Tensor.of(TestData.normal(37, n, 0, 1), n)) {
            List<double[]> results = Threads.atEachCount(() -> new double[] {L2Ops.sumOfSquares(t),
                L2Ops.penalty(0.01, List.of(t, t))});
            for (int i = 1; i < results.size(); i++) {
                Tolerance.assertBitIdentical("l2 threads " + Threads.COUNTS[i], results.get(0), results.get(i));
            }
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.zeros(arena, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> L2Ops.sumOfSquares(null)),
                    "sumOfSquares", "t", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> L2Ops.sumOfSquares(Tensor.zeros(arena, DType.INT64, 3))), "t", "float32", "int64[3]");
            for (double lambda : new double[] {-1, Double.NaN, Double.POSITIVE_INFINITY}) {
                assertMessage(assertThrows(IllegalArgumentException.class, () -> L2Ops.penalty(lambda, List.of(t))),
                        "l2Penalty", "lambda", String.valueOf(lambda));
            }
            assertMessage(assertThrows(IllegalArgumentException.class, () -> L2Ops.penalty(1, null)),
                    "parameters", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> L2Ops.penalty(1, Arrays.asList(t, null))), "parameters[1]", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> L2Ops.penalty(1, List.of(t, Tensor.zeros(arena, DType.INT64, 2, 2)))),
                    "parameters[1]", "float32", "int64[2, 2]");
            Tensor closed = Tensor.zeros(3);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> L2Ops.sumOfSquares(closed)), "t", "closed");
            assertMessage(assertThrows(IllegalStateException.class, () -> L2Ops.penalty(1, List.of(t, closed))),
                    "parameters[1]", "closed");
        }
    }
}
