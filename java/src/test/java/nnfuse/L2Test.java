package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.bindings.nnfuse_h;
import nnfuse.reference.L2Reference;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

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

    /**
     * The penalty's gradient {@code 2 * lambda * x}: the reference against
     * central finite differences of the double penalty, native against the
     * reference, accumulation, determinism, and bad input. The equivalence with
     * SGD's weight decay is in {@link SgdTest}.
     *
     * <p>Tolerances: the penalty is quadratic, so central differences have no
     * truncation error, only the rounding of the objective (under 1e-10 here):
     * atol 1e-9 + rtol 1e-9. The native gradient is {@code (2 * lambda) * x}
     * with {@code 2 * lambda} exact, a single float rounding of the exact value,
     * within 2^-24 of it: rtol 2^-23 (1.2e-7, no atol) leaves a factor 2.
     * Accumulation must equal the float sum of the old gradient and the fresh
     * one bit for bit.
     */
    @Nested
    class Backward {
        private static final Tolerance FD = Tolerance.of(1e-9, 1e-9);
        private static final Tolerance ONE_ROUNDING = Tolerance.of(0, 0x1p-23);

        @Test
        void referenceMatchesFiniteDifferences() {
            float[] x = TestData.normal(41, 33, 0.1, 2);
            for (double lambda : new double[] {0, 1e-4, 0.5, 3}) {
                double[] fd = FiniteDifferences.gradient(v -> lambda * L2Reference.sumOfSquares(v),
                        TestData.widen(x));
                FD.assertClose("l2 bwd vs finite differences", fd, L2Reference.backward(x, lambda));
            }
        }

        @ParameterizedTest(name = "n = {0}")
        @MethodSource("nnfuse.L2Test#sizes")
        void matchesReference(int n) {
            float[] x = TestData.normal(43L + n, n, 0.1, 2);
            for (float lambda : new float[] {1e-4f, 0.05f, 0.5f}) {
                try (Tensor t = Tensor.of(x, n); Tensor grad = L2Ops.backward(t, lambda)) {
                    ONE_ROUNDING.assertClose("l2 bwd grad [" + n + "]", L2Reference.backward(x, lambda),
                            grad.toFloatArray());
                }
            }
        }

        /** accumulate = true is the float sum old + fresh, PyTorch's accumulation into .grad. */
        @Test
        void accumulateAddsTheFreshGradient() {
            int n = 4097;
            float[] x = TestData.normal(47, n, 0, 2);
            float[] before = TestData.normal(48, n, 0, 1);
            try (Tensor t = Tensor.of(x, n); Tensor fresh = L2Ops.backward(t, 0.01f);
                    Tensor grad = Tensor.of(before, n)) {
                L2Ops.backward(grad, t, 0.01f, true);
                float[] f = fresh.toFloatArray();
                float[] expected = new float[n];
                for (int i = 0; i < n; i++) {
                    expected[i] = before[i] + f[i];
                }
                Tolerance.assertBitIdentical("l2 bwd accumulate", expected, grad.toFloatArray());
                L2Ops.backward(grad, t, 0.01f, false);
                Tolerance.assertBitIdentical("l2 bwd overwrite", f, grad.toFloatArray());
            }
        }

        @Test
        void deterministicAcrossThreadCounts() {
            int n = 1_000_003;
            try (Tensor t = Tensor.of(TestData.normal(49, n, 0, 1), n)) {
                List<float[]> runs = Threads.atEachCount(() -> {
                    try (Tensor grad = Tensor.of(TestData.normal(50, n, 0, 1), n)) {
                        L2Ops.backward(grad, t, 0.25f, true);
                        return grad.toFloatArray();
                    }
                });
                for (int i = 1; i < runs.size(); i++) {
                    Tolerance.assertBitIdentical("l2 bwd threads " + Threads.COUNTS[i], runs.get(0), runs.get(i));
                }
            }
        }

        @Test
        void badArguments() {
            try (Arena arena = Arena.ofConfined()) {
                Tensor x = Tensor.zeros(arena, 3, 4);
                Tensor grad = Tensor.zeros(arena, 3, 4);
                for (float lambda : new float[] {-1f, Float.NaN, Float.POSITIVE_INFINITY}) {
                    assertMessage(assertThrows(IllegalArgumentException.class,
                            () -> L2Ops.backward(grad, x, lambda, true)), "l2Backward", "lambda",
                            String.valueOf(lambda));
                }
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> L2Ops.backward(Tensor.zeros(arena, 12), x, 1f, true)), "l2Backward", "grad", "[3, 4]",
                        "[12]");
                assertMessage(assertThrows(IllegalArgumentException.class, () -> L2Ops.backward(null, 1f)),
                        "x", "null");
                assertMessage(assertThrows(IllegalArgumentException.class, () -> L2Ops.backward(null, x, 1f, true)),
                        "grad", "null");
                assertMessage(assertThrows(IllegalArgumentException.class, () -> L2Ops.backward(x, x, 1f, true)),
                        "grad", "x", "same tensor");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> L2Ops.backward(Tensor.zeros(arena, DType.INT64, 3, 4), 1f)), "x", "float32",
                        "int64[3, 4]");
                Tensor closed = Tensor.zeros(3, 4);
                closed.close();
                assertMessage(assertThrows(IllegalStateException.class, () -> L2Ops.backward(closed, x, 1f, true)),
                        "grad", "closed");
            }
        }

        /** nf_l2_bwd_f32 and, in its shape, nf_cuda_l2_bwd_f32 on device 0. */
        private interface Bwd {
            int call(MemorySegment grad, MemorySegment x, long n, float lambda, int accumulate);
        }

        /** The CUDA entry point, where the library has it, checks as the CPU one, before it touches a device. */
        @ParameterizedTest(name = "cuda {0}")
        @ValueSource(booleans = {false, true})
        void nativeChecksReturnAStatus(boolean cuda) {
            NativeLibrary.ensureLoaded();
            assumeTrue(!cuda || nnfuse_h.nf_cuda_built() == 1, "the library has no CUDA backend");
            String op = cuda ? "nf_cuda_l2_bwd_f32" : "nf_l2_bwd_f32";
            Bwd bwd = cuda
                    ? (grad, x, n, lambda, accumulate) -> nnfuse_h.nf_cuda_l2_bwd_f32(grad, x, n, lambda, accumulate, 0)
                    : nnfuse_h::nf_l2_bwd_f32;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment a = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
                MemorySegment b = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
                assertNative(op + ": accumulate must be 0 or 1, got 3", bwd.call(a, b, 8, 1f, 3));
                assertNative(op + ": lambda must be finite and >= 0, got -2", bwd.call(a, b, 8, -2f, 0));
                assertNative(op + ": grad overlaps x", bwd.call(a.asSlice(4), a, 4, 1f, 0));
                assertNative(op + ": x is NULL", bwd.call(a, MemorySegment.NULL, 8, 1f, 0));
            }
        }

        private static void assertNative(String message, int status) {
            assertEquals(nnfuse_h.NF_ERR_INVALID_ARGUMENT(), status);
            assertEquals(message, nnfuse_h.nf_last_error().getString(0));
        }
    }
}
