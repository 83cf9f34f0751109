package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.reference.LinearReference;
import nnfuse.testing.Backends;
import nnfuse.testing.AtEachCpuLevel;
import nnfuse.testing.CpuLevels;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Linear forward: the worksheet's dot products and closed forms (exact), native against the double reference
 * on the worksheet model's shapes and awkward ones, independence from batch and threads, and bad input.
 *
 * <p>Every test runs at each CPU level this machine supports ({@link CpuLevels}); a {@link PackedWeight} must
 * give the weight's result bit for bit, and every level must be bit-identical across thread counts.
 *
 * <p>Tolerances ({@link #productTolerance}): each output is a float32 dot product of length {@code K =
 * in_features} plus a bias, summed in ascending {@code k}. Each term costs at most two roundings of relative
 * size {@code u = 2^-24} (the product and the addition at the scalar level; one fused multiply-add, a single
 * rounding, at the others), so the error is bounded by about {@code K * u * S} in the worst case and by
 * {@code sqrt(K) * u * S} with high probability for terms of random sign (Higham &amp; Mary, 2019), where
 * {@code S = sum_k |x_k w_k| + |b|} is the magnitude of the terms, computed here from the data with the
 * reference on absolute values. The tolerance is therefore {@code 4 u S} (two roundings, with a factor 2 of
 * margin) widened by {@link Tolerance#forReduction}{@code (K)}, i.e. {@code 4 sqrt(K) u S}, at every level.
 * Small integers are exact in float, so the worksheet's and the closed-form examples are compared exactly.
 *
 * <p>Backward ({@link #backwardTolerances}): {@code dx = dy W} and {@code dW = dy^T x} are products of the same
 * kind, each element a float32 sum in one fixed order, so they get the same tolerance with their own
 * magnitudes {@code S} (the reference on absolute values) and reduction lengths: {@code out_features} for dx and
 * the rows (the batch) for dW, widened by {@link Tolerance#forReduction}. {@code db = sum_r dy} is the product
 * of dy with a vector of ones and gets the same policy over the rows; the kernel sums it in double, which only
 * adds margin. The reference backward itself is checked against central finite differences of the double
 * reference forward with {@link FiniteDifferences#SCALED_TOLERANCE}. Accumulation ({@code old + new}, one float
 * addition per element), optional gradients, threads and batch layout are compared bit for bit.
 */
class LinearTest extends AtEachCpuLevel {
    /** Unit roundoff of float32. */
    static final double U = 0x1p-24;
    /** The gradients in the order {@link BackwardCase#run} returns them. */
    private static final String[] GRADIENTS = {"dx", "dweight", "dbias"};
    /** Why the packed weight's tests run on the CPU backend only. */
    static final String PACKED = "packed weights are a layout of the CPU backend's product engine";

    /** Discussion 04, section 4 (a)-(c): y = w . x with w all ones, for x_drop, x_corr and x_orig. */
    @Test
    void worksheetDropoutDotProducts() {
        float[] x = {
            0, 0, 0, 0, 0, 0, 4, 4,
            0, 0, 0, 0, 0, 0, 16, 16,
            2, 6, 4, 4, 5, 3, 4, 4,
        };
        float[] w = new float[8];
        Arrays.fill(w, 1);
        try (Tensor xt = Tensor.of(x, 3, 8);
                Tensor wt = Tensor.of(w, 1, 8);
                Tensor y = LinearOps.forward(xt, wt, null)) {
            assertArrayEquals(new long[] {3, 1}, y.shape());
            Tolerance.of(0, 0).assertClose("linear worksheet y", new double[] {8, 32, 32}, y.toFloatArray());
        }
    }

    /**
     * Closed forms over in = 19 (two groups of eight and a tail of three): x = 1 and W[j, k] = j give
     * y[r, j] = 19 j + b[j]; x[r, k] = k and W = 1 give y = 0 + 1 + ... + 18 + b[j] = 171 + b[j].
     */
    @Test
    void closedForms() {
        int rows = 3;
        int in = 19;
        int out = 5;
        float[] ones = new float[rows * in];
        float[] ramp = new float[rows * in];
        float[] wByRow = new float[out * in];
        float[] wOnes = new float[out * in];
        Arrays.fill(ones, 1);
        Arrays.fill(wOnes, 1);
        for (int i = 0; i < rows * in; i++) {
            ramp[i] = i % in;
        }
        for (int i = 0; i < out * in; i++) {
            wByRow[i] = i / in;
        }
        float[] b = {0.5f, -1, 2, 0, 3.25f};
        double[] first = new double[rows * out];
        double[] second = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < out; j++) {
                first[r * out + j] = 19.0 * j + b[j];
                second[r * out + j] = 171 + b[j];
            }
        }
        try (Tensor bt = Tensor.of(b, out);
                Tensor x1 = Tensor.of(ones, rows, in);
                Tensor w1 = Tensor.of(wByRow, out, in);
                Tensor y1 = LinearOps.forward(x1, w1, bt);
                Tensor x2 = Tensor.of(ramp, rows, in);
                Tensor w2 = Tensor.of(wOnes, out, in);
                Tensor y2 = LinearOps.forward(x2, w2, bt)) {
            Tolerance.of(0, 0).assertClose("linear closed form y", first, y1.toFloatArray());
            Tolerance.of(0, 0).assertClose("linear closed form y", second, y2.toFloatArray());
        }
    }

    /** Discussion 04, section 1: Linear1..Linear4 of the worksheet's model at batch 4. */
    static Stream<Arguments> worksheetShapes() {
        return Stream.of(Arguments.of(4, 52, 128), Arguments.of(4, 128, 256), Arguments.of(4, 256, 20),
                Arguments.of(4, 20, 1000));
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int n : TestData.AWKWARD_SIZES) {
            b.add(Arguments.of(1, n, 7));
            b.add(Arguments.of(4, 33, n));
            b.add(Arguments.of(n, 31, 9));
        }
        b.add(Arguments.of(257, 300, 129));
        b.add(Arguments.of(64, 1024, 256));
        return b.build();
    }

    @ParameterizedTest(name = "[{0}, {1}] -> {2}")
    @MethodSource("worksheetShapes")
    void worksheetModelMatchesReference(int rows, int in, int out) {
        compare(rows, in, out, true);
    }

    @ParameterizedTest(name = "[{0}, {1}] -> {2}")
    @MethodSource("shapes")
    void matchesReference(int rows, int in, int out) {
        compare(rows, in, out, true);
    }

    @Test
    void withoutBias() {
        compare(7, 129, 33, false);
    }

    @Test
    void vectorInputGivesVectorOutput() {
        float[] x = TestData.normal(1, 33, 0, 1);
        float[] w = init(2, 7 * 33, 33);
        try (Tensor xt = Tensor.of(x, 33);
                Tensor wt = Tensor.of(w, 7, 33);
                Tensor y = LinearOps.forward(xt, wt, null)) {
            assertArrayEquals(new long[] {7}, y.shape());
            productTolerance(x, w, null, 1, 33, 7).assertClose("linear vector y",
                    LinearReference.forward(x, w, null, 1, 33, 7), y.toFloatArray());
        }
    }

    @Test
    void higherRankFlattensTheLeadingDimensions() {
        float[] x = TestData.normal(3, 2 * 3 * 5, 0, 1);
        float[] w = init(4, 4 * 5, 5);
        try (Tensor xt = Tensor.of(x, 2, 3, 5);
                Tensor wt = Tensor.of(w, 4, 5);
                Tensor y = LinearOps.forward(xt, wt, null)) {
            assertArrayEquals(new long[] {2, 3, 4}, y.shape());
            productTolerance(x, w, null, 6, 5, 4).assertClose("linear rank-3 y",
                    LinearReference.forward(x, w, null, 6, 5, 4), y.toFloatArray());
        }
    }

    /** A row gives the same bits alone (batch 1), in a batch of 4 and in a batch of 257: no blocking by rows. */
    @Test
    void rowsDoNotDependOnTheBatch() {
        int rows = 257;
        int in = 300;
        int out = 129;
        float[] x = TestData.normal(5, rows * in, 0, 1);
        float[] w = init(6, out * in, in);
        float[] b = init(7, out, in);
        try (Tensor wt = Tensor.of(w, out, in); Tensor bt = Tensor.of(b, out)) {
            float[] all = run(x, rows, wt, bt);
            for (int first : new int[] {0, 1, 128, 253}) {
                for (int batch : new int[] {1, 4}) {
                    float[] part = run(Arrays.copyOfRange(x, first * in, (first + batch) * in), batch, wt, bt);
                    Tolerance.assertBitIdentical("linear rows " + first + "+" + batch, Arrays.copyOfRange(all,
                            first * out, (first + batch) * out), part);
                }
            }
        }
    }

    @Test
    void sameResultWithOneTwoAndFourThreads() {
        float[] x = TestData.normal(8, 257 * 300, 0, 1);
        try (Tensor wt = Tensor.of(init(9, 129 * 300, 300), 129, 300);
                Tensor bt = Tensor.of(init(10, 129, 300), 129)) {
            Threads.assertSameAtEachCount("linear", () -> run(x, 257, wt, bt));
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 4, 52);
            Tensor w = Tensor.zeros(arena, 128, 52);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.forward(x, Tensor.zeros(arena, 128, 256), null)),
                    "weight", "[out_features, 52]", "[128, 256]", "float32[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.forward(x, Tensor.zeros(arena, 52), null)), "weight", "2 dimensions", "float32[52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.forward(x, w, Tensor.zeros(arena, 52))), "bias", "[128]", "[52]", "[128, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.forward(Tensor.zeros(arena, 4, 52), x, w, null)), "y", "[4, 128]", "[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(null, w, null)),
                    "x", "null");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(x, (Tensor) null, null)),
                    "weight", "null");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(null, x, w, null)),
                    "y", "null");
            Tensor labels = Tensor.zeros(arena, DType.INT64, 4, 52);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(labels, w, null)),
                    "x", "float32", "int64[4, 52]");
            Tensor intWeight = Tensor.zeros(arena, DType.INT64, 128, 52);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(x, intWeight, null)),
                    "weight", "float32", "int64[128, 52]");
            Tensor square = Tensor.zeros(arena, 4, 4);
            Tensor w4 = Tensor.zeros(arena, 4, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.forward(square, square, w4, null)), "y", "x", "same tensor", "[4, 4]");
            Tensor closed = Tensor.zeros(4, 52);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> LinearOps.forward(closed, w, null)),
                    "x", "closed", "[4, 52]");
            Tensor closedWeight = Tensor.zeros(128, 52);
            closedWeight.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> LinearOps.forward(x, closedWeight, null)), "weight", "closed", "[128, 52]");
            Tensor closedY = Tensor.zeros(4, 128);
            closedY.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> LinearOps.forward(closedY, x, w, null)),
                    "y", "closed");
        }
    }

    /**
     * A packed weight is a copy: it keeps giving the old weight's product after the weight changes, until
     * {@link PackedWeight#repack}, after which it gives the new weight's, bit for bit; the writing form
     * agrees with the allocating one.
     */
    @Test
    void repackFollowsTheWeight() {
        Backends.assumeCpu(PACKED);
        int rows = 5;
        int in = 37;
        int out = 19;
        float[] x = TestData.normal(31, rows * in, 0, 1);
        float[] first = init(32, out * in, in);
        float[] second = init(33, out * in, in);
        try (Tensor w = Tensor.of(first, out, in); Tensor xt = Tensor.of(x, rows, in);
                PackedWeight packed = PackedWeight.of(w); Tensor y = Tensor.zeros(rows, out)) {
            float[] before = run(x, rows, w, null);
            w.copyFrom(second);
            float[] after = run(x, rows, w, null);
            Tolerance.assertBitIdentical("linear packed y before repack", before, run(x, rows, packed, null));
            packed.repack(w);
            LinearOps.forward(y, xt, packed, null);
            Tolerance.assertBitIdentical("linear packed y after repack", after, y.toFloatArray());
        }
    }

    @Test
    void packedBadArguments() {
        Backends.assumeCpu(PACKED);
        try (Arena arena = Arena.ofConfined(); PackedWeight packed = PackedWeight.of(Tensor.zeros(arena, 128, 52))) {
            Tensor x = Tensor.zeros(arena, 4, 52);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.forward(Tensor.zeros(arena, 4, 256), packed, null)),
                    "weight", "[out_features, 256]", "packed float32[128, 52]", "float32[4, 256]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.forward(x, packed, Tensor.zeros(arena, 52))), "bias", "[128]", "[52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.forward(Tensor.zeros(arena, 4, 52), x, packed, null)), "y", "[4, 128]", "[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(x, (PackedWeight) null,
                    null)), "weight", "null");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> PackedWeight.of(Tensor.zeros(arena, 52))),
                    "packWeight", "weight", "2 dimensions", "float32[52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> PackedWeight.of(null)), "weight", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> packed.repack(Tensor.zeros(arena, 52, 128))), "packWeight", "weight", "[128, 52]",
                    "[52, 128]");
            PackedWeight closed = PackedWeight.of(Tensor.zeros(arena, 128, 52));
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> LinearOps.forward(x, closed, null)),
                    "weight", "packed", "closed");
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> closed.repack(Tensor.zeros(arena, 128, 52))), "packed", "closed");
        }
    }

    /** The reference backward against central differences of {@code sum(dy * (x w^T + b))} in x, w and b. */
    @Test
    void referenceBackwardMatchesFiniteDifferences() {
        for (int[] shape : TestData.smallShapes(23, 8)) {
            int rows = shape[0];
            int in = shape[1];
            int out = shape[2];
            long seed = 100L * rows + 10L * in + out;
            double[] x = TestData.widen(TestData.normal(seed, rows * in, 0, 1));
            double[] w = TestData.widen(TestData.normal(seed + 1, out * in, 0, 1));
            double[] b = TestData.widen(TestData.normal(seed + 2, out, 0, 1));
            float[] dy = TestData.normal(seed + 3, rows * out, 0, 1);
            LinearReference.Gradients g = LinearReference.backward(TestData.widen(dy), x, w, rows, in, out);
            String what = "linear ref vs finite diff ";
            Tolerance fd = FiniteDifferences.SCALED_TOLERANCE;
            fd.assertClose(what + "dx", FiniteDifferences.gradientScaled(
                    v -> FiniteDifferences.dot(dy, LinearReference.forward(v, w, b, rows, in, out)), x), g.dx());
            fd.assertClose(what + "dweight", FiniteDifferences.gradientScaled(
                    v -> FiniteDifferences.dot(dy, LinearReference.forward(x, v, b, rows, in, out)), w), g.dw());
            fd.assertClose(what + "dbias", FiniteDifferences.gradientScaled(
                    v -> FiniteDifferences.dot(dy, LinearReference.forward(x, w, v, rows, in, out)), b), g.db());
        }
    }

    @ParameterizedTest(name = "[{0}, {1}] -> {2}")
    @MethodSource("worksheetShapes")
    void worksheetModelBackwardMatchesReference(int rows, int in, int out) {
        compareBackward(BackwardCase.of(rows, in, out));
    }

    @ParameterizedTest(name = "[{0}, {1}] -> {2}")
    @MethodSource("shapes")
    void backwardMatchesReference(int rows, int in, int out) {
        compareBackward(BackwardCase.of(rows, in, out));
    }

    /**
     * accumulate = true adds the new gradient to what dweight and dbias hold, as PyTorch's {@code .grad +=}: the
     * result is the float sum of the old values and of the gradient that accumulate = false writes, bit for bit,
     * while dx, an activation's gradient, is overwritten either way.
     */
    @Test
    void accumulateAddsToTheParameterGradients() {
        BackwardCase c = BackwardCase.of(257, 300, 129);
        float[][] fresh = c.run(null, false);
        float[][] old = {TestData.normal(1, 257 * 300, 0, 1), TestData.normal(2, 129 * 300, 0, 1),
            TestData.normal(3, 129, 0, 1)};
        float[][] accumulated = c.run(old, true);
        Tolerance.assertBitIdentical("linear backward accumulate dx", fresh[0], accumulated[0]);
        Tolerance.assertBitIdentical("linear backward accumulate dweight", floatSum(old[1], fresh[1]), accumulated[1]);
        Tolerance.assertBitIdentical("linear backward accumulate dbias", floatSum(old[2], fresh[2]), accumulated[2]);
    }

    /** Each gradient alone (the others null) has the bits it has when all three are computed. */
    @Test
    void backwardOptionalGradients() {
        BackwardCase c = BackwardCase.of(33, 129, 31);
        float[][] all = c.run(null, false);
        try (Tensor dy = Tensor.of(c.dy, 33, 31); Tensor x = Tensor.of(c.x, 33, 129);
                Tensor w = Tensor.of(c.w, 31, 129); Tensor dx = Tensor.zeros(33, 129);
                Tensor dw = Tensor.zeros(31, 129); Tensor db = Tensor.zeros(31)) {
            LinearOps.backward(dx, null, null, dy, x, w, false);
            LinearOps.backward(null, dw, null, dy, x, w, false);
            LinearOps.backward(null, null, db, dy, x, w, false);
            LinearOps.backward(null, null, null, dy, x, w, false);
            Tolerance.assertBitIdentical("linear backward dx alone", all[0], dx.toFloatArray());
            Tolerance.assertBitIdentical("linear backward dweight alone", all[1], dw.toFloatArray());
            Tolerance.assertBitIdentical("linear backward dbias alone", all[2], db.toFloatArray());
        }
    }

    @Test
    void backwardHigherRankFlattensTheLeadingDimensions() {
        BackwardCase c = BackwardCase.of(6, 5, 4);
        float[][] flat = c.run(null, false);
        try (Tensor dy = Tensor.of(c.dy, 2, 3, 4); Tensor x = Tensor.of(c.x, 2, 3, 5); Tensor w = Tensor.of(c.w, 4, 5);
                Tensor dx = Tensor.zeros(2, 3, 5); Tensor dw = Tensor.zeros(4, 5); Tensor db = Tensor.zeros(4)) {
            LinearOps.backward(dx, dw, db, dy, x, w, false);
            Tolerance.assertBitIdentical("linear backward rank-3 dx", flat[0], dx.toFloatArray());
            Tolerance.assertBitIdentical("linear backward rank-3 dweight", flat[1], dw.toFloatArray());
            Tolerance.assertBitIdentical("linear backward rank-3 dbias", flat[2], db.toFloatArray());
        }
    }

    @Test
    void backwardSameResultWithOneTwoAndFourThreads() {
        for (BackwardCase c : List.of(BackwardCase.of(257, 300, 129), BackwardCase.of(4097, 33, 70))) {
            Threads.assertSameAtEachCount("linear backward", GRADIENTS, () -> c.run(null, false));
        }
    }

    @Test
    void backwardBadArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 4, 52);
            Tensor w = Tensor.zeros(arena, 128, 52);
            Tensor dy = Tensor.zeros(arena, 4, 128);
            Tensor dx = Tensor.zeros(arena, 4, 52);
            Tensor dw = Tensor.zeros(arena, 128, 52);
            Tensor db = Tensor.zeros(arena, 128);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, dw, db, Tensor.zeros(arena, 4, 52), x, w, false)),
                    "linearBackward", "dy", "[4, 128]", "[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(Tensor.zeros(arena, 52, 4), dw, db, dy, x, w, false)),
                    "dx", "[4, 52]", "[52, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, Tensor.zeros(arena, 52, 128), db, dy, x, w, false)),
                    "dweight", "[128, 52]", "[52, 128]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, dw, Tensor.zeros(arena, 52), dy, x, w, false)),
                    "dbias", "[128]", "[52]", "[128, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, dw, db, dy, x, Tensor.zeros(arena, 128, 4), false)),
                    "weight", "[out_features, 52]", "[128, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, dw, db, null, x, w, false)), "dy", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, dw, db, dy, null, w, false)), "x", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, dw, db, dy, x, null, false)), "weight", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, w, db, dy, x, w, false)), "dweight", "weight", "same tensor");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(x, dw, db, dy, x, w, false)), "dx", "x", "same tensor", "[4, 52]");
            Tensor intDy = Tensor.zeros(arena, DType.INT64, 4, 128);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> LinearOps.backward(dx, dw, db, intDy, x, w, false)), "dy", "float32", "int64[4, 128]");
            Tensor closed = Tensor.zeros(128, 52);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> LinearOps.backward(dx, closed, db, dy, x, w, false)), "dweight", "closed");
        }
    }

    /**
     * The tolerance for {@code x w^T + b} of this data (see the class comment): {@code 4 u S} widened by
     * {@code sqrt(in)}, with {@code S} the largest {@code sum_k |x_k w_k| + |b|} over the outputs.
     */
    static Tolerance productTolerance(float[] x, float[] w, float[] b, int rows, int in, int out) {
        double[] magnitudes = LinearReference.forward(abs(x), abs(w), b == null ? null : abs(b), rows, in, out);
        double s = Arrays.stream(magnitudes).max().orElseThrow();
        return Tolerance.of(4 * U * s, 4 * U).forReduction(in);
    }

    /** {@code n} values of PyTorch's initialization of nn.Linear's weight and bias: U(-1/sqrt(in), 1/sqrt(in)). */
    static float[] init(long seed, int n, int in) {
        double bound = 1 / Math.sqrt(in);
        return TestData.uniform(seed, n, -bound, bound);
    }

    /**
     * Tolerances of dx, dweight and dbias for this data (see the class comment): {@code 4 u S} widened by the
     * reduction length, with {@code S} the largest magnitude of each gradient, the reference on absolute values.
     * When the native op gets a dy that may be off by up to {@code dyError} per element (the fused block's
     * {@code dh}), each term of a sum may be off by that times its other factor, which adds twice
     * {@code dyError} times the largest factor to the atol before the widening (errors of random sign, like
     * the roundings).
     */
    static Tolerance[] backwardTolerances(double[] dy, double[] x, double[] w, int rows, int in, int out,
            double dyError) {
        LinearReference.Gradients s = LinearReference.backward(abs(dy), abs(x), abs(w), rows, in, out);
        return new Tolerance[] {productOf(s.dx(), 2 * dyError * maxAbs(w)).forReduction(out),
            productOf(s.dw(), 2 * dyError * maxAbs(x)).forReduction(rows),
            productOf(s.db(), 2 * dyError).forReduction(rows)};
    }

    /** {@code 4 u S + extra} with {@code S} the largest of the magnitudes. */
    private static Tolerance productOf(double[] magnitudes, double extra) {
        return Tolerance.of(4 * U * maxAbs(magnitudes) + extra, 4 * U);
    }

    private static double maxAbs(double[] a) {
        return Arrays.stream(a).map(Math::abs).max().orElseThrow();
    }

    /** The element-wise float sum {@code a + b}, as a float {@code .grad += g} computes it. */
    static float[] floatSum(float[] a, float[] b) {
        float[] sum = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            sum[i] = a[i] + b[i];
        }
        return sum;
    }

    private static void compareBackward(BackwardCase c) {
        double[] dy = TestData.widen(c.dy);
        double[] x = TestData.widen(c.x);
        double[] w = TestData.widen(c.w);
        LinearReference.Gradients ref = LinearReference.backward(dy, x, w, c.rows, c.in, c.out);
        Tolerance[] tol = backwardTolerances(dy, x, w, c.rows, c.in, c.out, 0);
        float[][] actual = c.run(null, false);
        double[][] expected = {ref.dx(), ref.dw(), ref.db()};
        String shape = " [" + c.rows + "x" + c.in + "->" + c.out + "]";
        for (int k = 0; k < GRADIENTS.length; k++) {
            tol[k].assertClose("linear backward " + GRADIENTS[k] + shape, expected[k], actual[k]);
        }
    }

    /** Native against the reference, and the packed weight's result against the weight's, bit for bit. */
    private static void compare(int rows, int in, int out, boolean withBias) {
        long seed = 1_000_003L * rows + 1009L * in + out;
        float[] x = TestData.normal(seed, rows * in, 0, 1);
        float[] w = init(seed + 1, out * in, in);
        float[] b = withBias ? init(seed + 2, out, in) : null;
        String shape = " [" + rows + "x" + in + "->" + out + "]";
        try (Tensor wt = Tensor.of(w, out, in); Tensor bt = b == null ? null : Tensor.of(b, out)) {
            float[] y = run(x, rows, wt, bt);
            productTolerance(x, w, b, rows, in, out).assertClose("linear y" + shape,
                    LinearReference.forward(x, w, b, rows, in, out), y);
            if (!Backends.onCuda()) {
                try (PackedWeight packed = PackedWeight.of(wt)) {
                    Tolerance.assertBitIdentical("linear packed y" + shape, y, run(x, rows, packed, bt));
                }
            }
        }
    }

    private static float[] run(float[] x, int rows, Tensor w, Tensor b) {
        try (Tensor xt = Tensor.of(x, rows, w.size(1)); Tensor y = LinearOps.forward(xt, w, b)) {
            return y.toFloatArray();
        }
    }

    private static float[] run(float[] x, int rows, PackedWeight w, Tensor b) {
        try (Tensor xt = Tensor.of(x, rows, w.inFeatures()); Tensor y = LinearOps.forward(xt, w, b)) {
            return y.toFloatArray();
        }
    }

    private static float[] abs(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = Math.abs(a[i]);
        }
        return r;
    }

    private static double[] abs(double[] a) {
        return Arrays.stream(a).map(Math::abs).toArray();
    }

    /** Seeded backward data: dy and x ~ N(0, 1), W as PyTorch initializes it. */
    private record BackwardCase(int rows, int in, int out, float[] dy, float[] x, float[] w) {
        static BackwardCase of(int rows, int in, int out) {
            long seed = 7_000_003L * rows + 1013L * in + out;
            return new BackwardCase(rows, in, out, TestData.normal(seed, rows * out, 0, 1),
                    TestData.normal(seed + 1, rows * in, 0, 1), init(seed + 2, out * in, in));
        }

        /** dx, dweight and dbias of the native op, starting from {@code initial} (or zeros when null). */
        float[][] run(float[][] initial, boolean accumulate) {
            try (Tensor dyt = Tensor.of(dy, rows, out); Tensor xt = Tensor.of(x, rows, in);
                    Tensor wt = Tensor.of(w, out, in);
                    Tensor dx = initial == null ? Tensor.zeros(rows, in) : Tensor.of(initial[0], rows, in);
                    Tensor dw = initial == null ? Tensor.zeros(out, in) : Tensor.of(initial[1], out, in);
                    Tensor db = initial == null ? Tensor.zeros(out) : Tensor.of(initial[2], out)) {
                LinearOps.backward(dx, dw, db, dyt, xt, wt, accumulate);
                return new float[][] {dx.toFloatArray(), dw.toFloatArray(), db.toFloatArray()};
            }
        }
    }
}
