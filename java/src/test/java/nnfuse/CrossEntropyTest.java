package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import nnfuse.CrossEntropyOps.Reduction;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.bindings.nnfuse_h;
import nnfuse.reference.CrossEntropyReference;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Cross-entropy: hand-checkable values, golden values from an independent
 * numpy transcription of PyTorch's formulas (resources/cross_entropy/make_fixture.py:
 * weights, ignore_index, label smoothing, every reduction), native against the
 * double reference on awkward shapes, extreme logits, determinism, bad input.
 *
 * <p>Tolerances: each sample's loss is computed in double from float logits;
 * its only float-sized errors are expf's (under 1 ulp each, so a relative
 * ~1e-7 on the sum of exponentials, hence an absolute ~1e-7 on its log, times
 * the class weight) and the final rounding to float (6e-8 relative). atol 1e-6
 * + rtol 1e-6 covers both several times over for weights up to ~5. MEAN and SUM
 * are reductions over N samples and use {@link Tolerance#forReduction}, although
 * the sum itself is in double.
 */
class CrossEntropyTest {
    private static final Tolerance LOSS = Tolerance.of(1e-6, 1e-6);
    private static final float INF = Float.POSITIVE_INFINITY;

    /** ln 2 for two equal logits; log(1 + e^-1 + e^-2) for logits [1, 2, 3] and label 2. */
    @Test
    void handCheckable() {
        try (Tensor logits = Tensor.of(new float[] {0, 0}, 1, 2); Tensor labels = Tensor.ofLongs(new long[] {0}, 1)) {
            LOSS.assertClose("crossEntropy ln 2", new double[] {Math.log(2)},
                    new float[] {CrossEntropyOps.forward(logits, labels)});
        }
        try (Tensor logits = Tensor.of(new float[] {1, 2, 3}, 1, 3);
                Tensor labels = Tensor.ofLongs(new long[] {2}, 1)) {
            double expected = Math.log(1 + Math.exp(-1) + Math.exp(-2));
            LOSS.assertClose("crossEntropy [1, 2, 3]", new double[] {expected},
                    new float[] {CrossEntropyOps.forward(logits, labels)});
        }
    }

    record Case(String name, int rows, int classes, Reduction reduction, long ignoreIndex, float smoothing,
            float[] logits, long[] labels, float[] weight, double[] expected) {}

    static Stream<Case> fixture() throws IOException {
        try (InputStream in = CrossEntropyTest.class.getResourceAsStream("/cross_entropy/fixture.txt")) {
            assertNotNull(in, "cross_entropy/fixture.txt is missing; run make_fixture.py");
            List<Case> cases = new ArrayList<>();
            Map<String, String> fields = new HashMap<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.equals("end")) {
                    cases.add(parseCase(fields));
                    fields.clear();
                } else if (!line.isBlank()) {
                    int space = line.indexOf(' ');
                    fields.put(line.substring(0, space), line.substring(space + 1));
                }
            }
            return cases.stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixture")
    void matchesNumpyFixture(Case c) {
        try (Tensor logits = Tensor.of(c.logits(), c.rows(), c.classes());
                Tensor labels = Tensor.ofLongs(c.labels(), c.rows());
                Tensor weight = c.weight() == null ? null : Tensor.of(c.weight(), c.classes());
                Tensor loss = CrossEntropyOps.forward(logits, labels, weight, c.reduction(), c.ignoreIndex(),
                        c.smoothing())) {
            tolerance(c.reduction(), c.rows()).assertClose("crossEntropy fixture " + c.name(), c.expected(),
                    loss.toFloatArray());
            if (c.reduction() == Reduction.MEAN && c.weight() == null && c.smoothing() == 0
                    && c.ignoreIndex() == CrossEntropyOps.DEFAULT_IGNORE_INDEX) {
                LOSS.assertClose("crossEntropy fixture convenience " + c.name(), c.expected(),
                        new float[] {CrossEntropyOps.forward(logits, labels)});
            }
        }
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int n : TestData.AWKWARD_SIZES) {
            b.add(Arguments.of(n, 7));
            b.add(Arguments.of(5, n));
        }
        b.add(Arguments.of(33, 1000));
        return b.build();
    }

    /** Every reduction, with and without weights, ignored samples and smoothing, against the reference. */
    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void matchesReference(int rows, int classes) {
        long seed = 53L * rows + classes;
        float[] logits = TestData.normal(seed, rows * classes, 0, 3);
        long[] labels = labels(seed + 1, rows, classes, 0.2);
        float[] weight = TestData.uniform(seed + 2, classes, 0.25, 4);
        for (Reduction reduction : Reduction.values()) {
            compare(rows, classes, logits, labels, null, reduction, 0f, "");
            compare(rows, classes, logits, labels, weight, reduction, 0.1f, "weighted smoothed");
        }
    }

    /** Logits of +-1e4 and in the thousands: exp overflows without the max shift. */
    @Test
    void extremeLogits() {
        int rows = 33;
        int classes = 31;
        long[] labels = labels(61, rows, classes, 0.1);
        float[] weight = TestData.uniform(62, classes, 0.5, 2);
        float[] signs = TestData.uniform(63, rows * classes, -1, 1);
        float[] mixed = new float[rows * classes];
        for (int i = 0; i < mixed.length; i++) {
            mixed[i] = signs[i] < -0.3f ? -1e4f : signs[i] > 0.3f ? 1e4f - 8 * (signs[i] - 0.3f) : 100 * signs[i];
        }
        float[] thousands = TestData.normal(64, rows * classes, 3000, 1000);
        for (Reduction reduction : Reduction.values()) {
            compare(rows, classes, mixed, labels, weight, reduction, 0.2f, "mixed +-1e4");
            compare(rows, classes, thousands, labels, null, reduction, 0f, "thousands");
        }
    }

    /**
     * A -inf logit gives probability 0: finite loss unless it is the target's;
     * with smoothing the term -sum_c logp_c is +inf, as in PyTorch.
     */
    @Test
    void negativeInfiniteLogits() {
        try (Tensor logits = Tensor.of(new float[] {-INF, 0, 0}, 1, 3);
                Tensor labels = Tensor.ofLongs(new long[] {1}, 1);
                Tensor target = Tensor.ofLongs(new long[] {0}, 1)) {
            LOSS.assertClose("crossEntropy -inf logit", new double[] {Math.log(2)},
                    new float[] {CrossEntropyOps.forward(logits, labels)});
            try (Tensor smoothed = CrossEntropyOps.forward(logits, labels, null, Reduction.MEAN, -100, 0.1f);
                    Tensor onTarget = CrossEntropyOps.forward(logits, target, null, Reduction.NONE, -100, 0f)) {
                assertEquals(INF, smoothed.get(0));
                assertEquals(INF, onTarget.get(0));
            }
        }
    }

    /** PyTorch's MEAN over no samples is 0/0; SUM and NONE give zeros. */
    @Test
    void everySampleIgnored() {
        try (Tensor logits = Tensor.of(TestData.normal(71, 12, 0, 1), 4, 3);
                Tensor labels = Tensor.ofLongs(new long[] {-100, -100, -100, -100}, 4);
                Tensor none = CrossEntropyOps.forward(logits, labels, null, Reduction.NONE, -100, 0.5f);
                Tensor sum = CrossEntropyOps.forward(logits, labels, null, Reduction.SUM, -100, 0.5f)) {
            assertTrue(Float.isNaN(CrossEntropyOps.forward(logits, labels)));
            Tolerance.assertBitIdentical("crossEntropy all ignored none", new float[4], none.toFloatArray());
            Tolerance.assertBitIdentical("crossEntropy all ignored sum", new float[1], sum.toFloatArray());
        }
    }

    /** 4097 x 129 is far above the parallel threshold; the sums over samples must not change a bit. */
    @Test
    void deterministicAcrossThreadCounts() {
        int rows = 4097;
        int classes = 129;
        try (Tensor logits = Tensor.of(TestData.normal(81, rows * classes, 0, 3), rows, classes);
                Tensor labels = Tensor.ofLongs(labels(82, rows, classes, 0.1), rows);
                Tensor weight = Tensor.of(TestData.uniform(83, classes, 0.5, 2), classes)) {
            for (Reduction reduction : Reduction.values()) {
                List<float[]> results = Threads.atEachCount(() -> {
                    try (Tensor loss = CrossEntropyOps.forward(logits, labels, weight, reduction, -100, 0.1f)) {
                        return loss.toFloatArray();
                    }
                });
                for (int i = 1; i < results.size(); i++) {
                    Tolerance.assertBitIdentical("crossEntropy " + reduction + " threads " + Threads.COUNTS[i],
                            results.get(0), results.get(i));
                }
            }
        }
    }

    @Test
    void labelOutOfRange() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor logits = Tensor.zeros(arena, 3, 5);
            Tensor high = Tensor.ofLongs(new long[] {0, 4, 5}, 3);
            Tensor negative = Tensor.ofLongs(new long[] {-1, 0, 0}, 3);
            try (high; negative) {
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.forward(logits, high)), "labels[2] = 5", "5 classes", "[3, 5]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.forward(logits, negative)), "labels[0] = -1", "5 classes", "-100");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.forward(logits, negative, null, Reduction.SUM, -2, 0f)),
                        "labels[0] = -1", "ignoreIndex -2");
            }
        }
    }

    /** The C entry point checks labels, smoothing and reduction itself, for callers that bypass the Java checks. */
    @Test
    void nativeSideValidatesArguments() {
        NativeLibrary.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment loss = arena.allocate(ValueLayout.JAVA_FLOAT, 2);
            MemorySegment logits = arena.allocate(ValueLayout.JAVA_FLOAT, 6);
            MemorySegment good = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 2);
            MemorySegment bad = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 3);
            int mean = nnfuse_h.NF_REDUCTION_MEAN();
            assertNativeFailure(nnfuse_h.nf_cross_entropy_fwd_f32(loss, logits, bad, MemorySegment.NULL, 2, 3, -100,
                    0f, mean), "labels[1] = 3", "3 classes");
            assertNativeFailure(nnfuse_h.nf_cross_entropy_fwd_f32(loss, logits, good, MemorySegment.NULL, 2, 3, -100,
                    1.5f, mean), "label_smoothing", "1.5");
            assertNativeFailure(nnfuse_h.nf_cross_entropy_fwd_f32(loss, logits, good, MemorySegment.NULL, 2, 3, -100,
                    0f, 7), "reduction", "7");
            assertNativeFailure(nnfuse_h.nf_cross_entropy_fwd_f32(loss, logits, MemorySegment.NULL,
                    MemorySegment.NULL, 2, 3, -100, 0f, mean), "labels is NULL");
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor logits = Tensor.zeros(arena, 3, 4);
            Tensor labels = Tensor.zeros(arena, DType.INT64, 3);
            Tensor weight = Tensor.zeros(arena, 4);
            Reduction mean = Reduction.MEAN;
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(null, labels)), "crossEntropy", "logits", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(Tensor.zeros(arena, 12), labels)), "logits", "2 dimensions",
                    "float32[12]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(Tensor.zeros(arena, 3, 4, 1), labels)), "logits", "[3, 4, 1]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(Tensor.zeros(arena, DType.INT64, 3, 4), labels)),
                    "logits", "float32", "int64[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(logits, null)), "labels", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(logits, Tensor.zeros(arena, 3))), "labels", "int64", "float32[3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(logits, Tensor.zeros(arena, DType.INT64, 4))),
                    "labels", "[3]", "[4]", "[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(logits, Tensor.zeros(arena, DType.INT64, 3, 1))),
                    "labels", "[3]", "[3, 1]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(logits, labels, Tensor.zeros(arena, 3), mean, -100, 0f)),
                    "weight", "[4]", "[3]", "[3, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(logits, labels, Tensor.zeros(arena, DType.INT64, 4), mean, -100,
                            0f)), "weight", "float32", "int64[4]");
            for (float eps : new float[] {-0.1f, 1.5f, Float.NaN, INF}) {
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.forward(logits, labels, weight, mean, -100, eps)),
                        "labelSmoothing", "[0.0, 1.0]", "got " + eps);
            }
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(logits, labels, null, null, -100, 0f)), "reduction", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(Tensor.zeros(arena, 3), logits, labels, null, mean, -100, 0f)),
                    "loss", "[1]", "[3]", "MEAN");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CrossEntropyOps.forward(Tensor.zeros(arena, 1), logits, labels, null, Reduction.NONE, -100,
                            0f)), "loss", "[3]", "[1]", "NONE");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> CrossEntropyOps.forward(closed, labels)), "logits", "closed");
            Tensor closedLabels = Tensor.ofLongs(new long[] {0, 0, 0}, 3);
            closedLabels.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> CrossEntropyOps.forward(logits, closedLabels)), "labels", "closed");
        }
    }

    /**
     * Backward with respect to the logits: the reference against central finite
     * differences of the double reference forward (the loss itself for MEAN and
     * SUM, {@code sum(dloss * loss)} for NONE) with weights, ignored samples and
     * label smoothing; closed forms; native against the reference on awkward
     * shapes and extreme logits; ignored samples; in place; determinism; bad input.
     *
     * <p>Tolerances: finite differences are within about 1e-9 of the exact
     * derivative ({@link FiniteDifferences}), so the reference agrees to atol
     * 1e-7 + rtol 1e-6. The native row is {@code g * (s * p - q)} in double,
     * where each probability p carries the float rounding of its exponential
     * and expf's error (together under 2e-7 relative), then one rounding to
     * float (6e-8 relative). With {@code s <= max w} and {@code p <= 1} the
     * error is below {@code 2e-7 * |g| * max w} plus 6e-8 of the result, so
     * the tolerance is atol {@code 4e-7 * max|g| * max w} (a factor 2 to spare,
     * scaled because MEAN divides every gradient by the total weight) + rtol 2e-7.
     * Closed forms: atol 1e-7 + rtol 1e-6 on values below 1.
     */
    @Nested
    class Backward {
        private static final Tolerance FD = Tolerance.of(1e-7, 1e-6);
        private static final Tolerance CLOSED_FORM = Tolerance.of(1e-7, 1e-6);

        @Test
        void referenceMatchesFiniteDifferences() {
            int rows = 6;
            int classes = 5;
            float[] logits = TestData.normal(91, rows * classes, 0, 2);
            float[] weight = TestData.uniform(92, classes, 0.25, 3);
            float[] dlossNone = TestData.normal(93, rows, 0, 1);
            double[] x = TestData.widen(logits);
            for (Reduction reduction : Reduction.values()) {
                float[] dloss = reduction == Reduction.NONE ? dlossNone : new float[] {1};
                for (float[] w : Arrays.asList(null, weight)) {
                    for (float smoothing : new float[] {0f, 0.1f, 1f}) {
                        for (long ignore : new long[] {-100, 2}) {
                            long[] labels = {0, 4, 2, ignore == 2 ? 1 : -100, 3, 2};
                            double[] fd = FiniteDifferences.gradient(v -> FiniteDifferences.dot(dloss,
                                    CrossEntropyReference.forward(v, labels, w, rows, classes, reduction, ignore,
                                            smoothing)), x);
                            String what = String.format(Locale.ROOT,
                                    "crossEntropy bwd %s vs finite differences [w %b e %s ignore %d]", reduction,
                                    w != null, smoothing, ignore);
                            FD.assertClose(what, fd, CrossEntropyReference.backward(dloss, logits, labels, w, rows,
                                    classes, reduction, ignore, smoothing));
                        }
                    }
                }
            }
        }

        /**
         * Logits [1, 2, 3] and [0, 0, ln 2] with labels 2 and 0: softmax minus
         * the target distribution ((1 - e) * onehot + e / C), over the 2 samples for MEAN.
         */
        @Test
        void closedForms() {
            float[] logits = {1, 2, 3, 0, 0, (float) Math.log(2)};
            double ln2 = (float) Math.log(2);
            double z1 = Math.exp(1) + Math.exp(2) + Math.exp(3);
            double z2 = 2 + Math.exp(ln2);
            double[] p = {Math.exp(1) / z1, Math.exp(2) / z1, Math.exp(3) / z1, 1 / z2, 1 / z2, Math.exp(ln2) / z2};
            long[] labels = {2, 0};
            for (float e : new float[] {0f, 0.3f}) {
                double[] expected = new double[6];
                for (int i = 0; i < 6; i++) {
                    double target = (i == 2 || i == 3 ? 1 - e : 0) + e / 3;
                    expected[i] = (p[i] - target) / 2;
                }
                try (Tensor x = Tensor.of(logits, 2, 3); Tensor t = Tensor.ofLongs(labels, 2);
                        Tensor one = Tensor.of(new float[] {1}, 1);
                        Tensor dx = CrossEntropyOps.backward(one, x, t, null, Reduction.MEAN, -100, e)) {
                    CLOSED_FORM.assertClose("crossEntropy bwd closed form [e " + e + "]", expected, dx.toFloatArray());
                }
            }
            try (Tensor x = Tensor.of(logits, 2, 3); Tensor t = Tensor.ofLongs(labels, 2);
                    Tensor dx = CrossEntropyOps.backward(x, t)) {
                double[] expected = new double[6];
                for (int i = 0; i < 6; i++) {
                    expected[i] = (p[i] - (i == 2 || i == 3 ? 1 : 0)) / 2;
                }
                CLOSED_FORM.assertClose("crossEntropy bwd convenience closed form", expected, dx.toFloatArray());
            }
        }

        @ParameterizedTest(name = "[{0}, {1}]")
        @MethodSource("nnfuse.CrossEntropyTest#shapes")
        void matchesReference(int rows, int classes) {
            long seed = 59L * rows + classes;
            float[] logits = TestData.normal(seed, rows * classes, 0, 3);
            long[] labels = labels(seed + 1, rows, classes, 0.2);
            float[] weight = TestData.uniform(seed + 2, classes, 0.25, 4);
            float[] dlossNone = TestData.normal(seed + 3, rows, 0, 1);
            for (Reduction reduction : Reduction.values()) {
                float[] dloss = reduction == Reduction.NONE ? dlossNone : new float[] {1.5f};
                compareBackward(rows, classes, logits, labels, null, dloss, reduction, 0f, "");
                compareBackward(rows, classes, logits, labels, weight, dloss, reduction, 0.1f, "weighted smoothed");
            }
        }

        /** Logits of +-1e4 and in the thousands: the softmax's max shift keeps every probability finite. */
        @Test
        void extremeLogits() {
            int rows = 33;
            int classes = 31;
            long[] labels = labels(161, rows, classes, 0.1);
            float[] weight = TestData.uniform(162, classes, 0.5, 2);
            float[] signs = TestData.uniform(163, rows * classes, -1, 1);
            float[] mixed = new float[rows * classes];
            for (int i = 0; i < mixed.length; i++) {
                mixed[i] = signs[i] < -0.3f ? -1e4f : signs[i] > 0.3f ? 1e4f - 8 * (signs[i] - 0.3f) : 100 * signs[i];
            }
            float[] thousands = TestData.normal(164, rows * classes, 3000, 1000);
            float[] dlossNone = TestData.normal(165, rows, 0, 1);
            for (Reduction reduction : Reduction.values()) {
                float[] dloss = reduction == Reduction.NONE ? dlossNone : new float[] {1};
                compareBackward(rows, classes, mixed, labels, weight, dloss, reduction, 0.2f, "mixed +-1e4");
                compareBackward(rows, classes, thousands, labels, null, dloss, reduction, 0f, "thousands");
            }
        }

        /** A -inf logit has probability 0: its gradient is 0, or -e / C with smoothing; never NaN. */
        @Test
        void negativeInfiniteLogit() {
            try (Tensor x = Tensor.of(new float[] {-INF, 0, 0}, 1, 3); Tensor t = Tensor.ofLongs(new long[] {1}, 1);
                    Tensor one = Tensor.of(new float[] {1}, 1);
                    Tensor plain = CrossEntropyOps.backward(x, t);
                    Tensor smoothed = CrossEntropyOps.backward(one, x, t, null, Reduction.SUM, -100, 0.3f)) {
                CLOSED_FORM.assertClose("crossEntropy bwd -inf logit", new double[] {0, -0.5, 0.5},
                        plain.toFloatArray());
                CLOSED_FORM.assertClose("crossEntropy bwd -inf logit smoothed",
                        new double[] {-0.1, 0.5 - 0.7 - 0.1, 0.5 - 0.1}, smoothed.toFloatArray());
            }
        }

        /** Ignored samples get exactly 0; with every sample ignored MEAN's gradient is 0 too, as PyTorch's. */
        @Test
        void ignoredSamplesGetZero() {
            int rows = 4;
            int classes = 3;
            float[] logits = TestData.normal(171, rows * classes, 0, 1);
            try (Tensor x = Tensor.of(logits, rows, classes);
                    Tensor all = Tensor.ofLongs(new long[] {-100, -100, -100, -100}, rows);
                    Tensor some = Tensor.ofLongs(new long[] {1, -100, 2, -100}, rows);
                    Tensor one = Tensor.of(new float[] {1}, 1)) {
                for (Reduction reduction : new Reduction[] {Reduction.MEAN, Reduction.SUM}) {
                    try (Tensor dx = CrossEntropyOps.backward(one, x, all, null, reduction, -100, 0.5f)) {
                        Tolerance.assertBitIdentical("crossEntropy bwd all ignored " + reduction,
                                new float[rows * classes], dx.toFloatArray());
                    }
                }
                try (Tensor dx = CrossEntropyOps.backward(one, x, some, null, Reduction.MEAN, -100, 0.5f)) {
                    float[] g = dx.toFloatArray();
                    for (int i : new int[] {1, 3}) {
                        Tolerance.assertBitIdentical("crossEntropy bwd ignored row " + i, new float[classes],
                                Arrays.copyOfRange(g, i * classes, (i + 1) * classes));
                    }
                }
            }
        }

        @Test
        void inPlace() {
            int rows = 7;
            int classes = 33;
            float[] logits = TestData.normal(181, rows * classes, 0, 2);
            long[] labels = labels(182, rows, classes, 0.2);
            try (Tensor x = Tensor.of(logits, rows, classes); Tensor t = Tensor.ofLongs(labels, rows);
                    Tensor expected = CrossEntropyOps.backward(x, t); Tensor one = Tensor.of(new float[] {1}, 1)) {
                CrossEntropyOps.backward(x, one, x, t, null, Reduction.MEAN, -100, 0f);
                Tolerance.assertBitIdentical("crossEntropy bwd in place", expected.toFloatArray(), x.toFloatArray());
            }
        }

        /** 4097 x 129 is far above the parallel threshold; rows are independent, so no bit may change. */
        @Test
        void deterministicAcrossThreadCounts() {
            int rows = 4097;
            int classes = 129;
            try (Tensor logits = Tensor.of(TestData.normal(191, rows * classes, 0, 3), rows, classes);
                    Tensor labels = Tensor.ofLongs(labels(192, rows, classes, 0.1), rows);
                    Tensor weight = Tensor.of(TestData.uniform(193, classes, 0.5, 2), classes);
                    Tensor dloss = Tensor.of(TestData.normal(194, rows, 0, 1), rows)) {
                List<float[]> results = Threads.atEachCount(() -> {
                    try (Tensor dx = CrossEntropyOps.backward(dloss, logits, labels, weight, Reduction.NONE, -100,
                            0.1f)) {
                        return dx.toFloatArray();
                    }
                });
                for (int i = 1; i < results.size(); i++) {
                    Tolerance.assertBitIdentical("crossEntropy bwd threads " + Threads.COUNTS[i], results.get(0),
                            results.get(i));
                }
            }
        }

        @Test
        void badArguments() {
            try (Arena arena = Arena.ofConfined()) {
                Tensor logits = Tensor.zeros(arena, 3, 4);
                Tensor labels = Tensor.zeros(arena, DType.INT64, 3);
                Tensor one = Tensor.zeros(arena, 1);
                Tensor perSample = Tensor.zeros(arena, 3);
                Reduction mean = Reduction.MEAN;
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.backward(perSample, logits, labels, null, mean, -100, 0f)),
                        "crossEntropyBackward", "dloss", "[1]", "[3]", "MEAN");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.backward(one, logits, labels, null, Reduction.NONE, -100, 0f)),
                        "dloss", "[3]", "[1]", "NONE");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.backward(Tensor.zeros(arena, 4, 3), one, logits, labels, null, mean, -100,
                                0f)), "dlogits", "[3, 4]", "[4, 3]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.backward(null, logits, labels, null, mean, -100, 0f)), "dloss", "null");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.backward(one, Tensor.zeros(arena, 12), labels, null, mean, -100, 0f)),
                        "logits", "2 dimensions", "float32[12]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.backward(one, logits, Tensor.zeros(arena, 3), null, mean, -100, 0f)),
                        "labels", "int64", "float32[3]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.backward(one, logits, labels, Tensor.zeros(arena, 3), mean, -100, 0f)),
                        "weight", "[4]", "[3]");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> CrossEntropyOps.backward(one, logits, labels, null, null, -100, 0f)), "reduction",
                        "null");
                for (float e : new float[] {-0.1f, 1.5f, Float.NaN}) {
                    assertMessage(assertThrows(IllegalArgumentException.class,
                            () -> CrossEntropyOps.backward(one, logits, labels, null, mean, -100, e)),
                            "crossEntropyBackward", "labelSmoothing", "got " + e);
                }
                try (Tensor high = Tensor.ofLongs(new long[] {0, 4, 1}, 3)) {
                    assertMessage(assertThrows(IllegalArgumentException.class,
                            () -> CrossEntropyOps.backward(one, logits, high, null, mean, -100, 0f)),
                            "crossEntropyBackward", "labels[1] = 4", "4 classes", "[3, 4]");
                }
            }
        }

        @Test
        void nativeSideValidatesArguments() {
            NativeLibrary.ensureLoaded();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment dlogits = arena.allocate(ValueLayout.JAVA_FLOAT, 12);
                MemorySegment logits = arena.allocate(ValueLayout.JAVA_FLOAT, 6);
                MemorySegment dloss = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
                MemorySegment good = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 2);
                MemorySegment bad = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, -7);
                int mean = nnfuse_h.NF_REDUCTION_MEAN();
                MemorySegment none = MemorySegment.NULL;
                assertBackwardFailure(nnfuse_h.nf_cross_entropy_bwd_f32(dlogits, dloss, logits, bad, none, 2, 3,
                        -100, 0f, mean), "labels[1] = -7", "3 classes");
                assertBackwardFailure(nnfuse_h.nf_cross_entropy_bwd_f32(dlogits, none, logits, good, none, 2, 3,
                        -100, 0f, mean), "dloss is NULL");
                assertBackwardFailure(nnfuse_h.nf_cross_entropy_bwd_f32(dlogits, dloss, logits, good, none, 2, 3,
                        -100, -1f, mean), "label_smoothing", "-1");
                assertBackwardFailure(nnfuse_h.nf_cross_entropy_bwd_f32(dlogits, dloss, logits, good, none, 2, 3,
                        -100, 0f, 3), "reduction", "3");
                assertBackwardFailure(nnfuse_h.nf_cross_entropy_bwd_f32(dlogits.asSlice(4), dloss, dlogits, good,
                        none, 2, 3, -100, 0f, mean), "dlogits overlaps logits");
                assertBackwardFailure(nnfuse_h.nf_cross_entropy_bwd_f32(dlogits, dlogits.asSlice(8), logits, good,
                        none, 2, 3, -100, 0f, mean), "dlogits overlaps dloss");
            }
        }

        private static void assertBackwardFailure(int status, String... fragments) {
            assertEquals(nnfuse_h.NF_ERR_INVALID_ARGUMENT(), status);
            assertMessage(nnfuse_h.nf_last_error().getString(0), fragments);
            assertMessage(nnfuse_h.nf_last_error().getString(0), "nf_cross_entropy_bwd_f32");
        }

        private static void compareBackward(int rows, int classes, float[] logits, long[] labels, float[] weight,
                float[] dloss, Reduction reduction, float smoothing, String what) {
            double[] expected = CrossEntropyReference.backward(dloss, logits, labels, weight, rows, classes,
                    reduction, -100, smoothing);
            try (Tensor x = Tensor.of(logits, rows, classes);
                    Tensor t = Tensor.ofLongs(labels, rows);
                    Tensor w = weight == null ? null : Tensor.of(weight, classes);
                    Tensor d = Tensor.of(dloss, dloss.length);
                    Tensor dx = CrossEntropyOps.backward(d, x, t, w, reduction, -100, smoothing)) {
                String name = String.format(Locale.ROOT, "crossEntropy bwd %s [%dx%d] %s", reduction, rows, classes,
                        what);
                gradientTolerance(dloss, labels, weight, reduction).assertClose(name.trim(), expected,
                        dx.toFloatArray());
            }
        }

        /** atol 4e-7 * max|g_i| * max w + rtol 2e-7, as the class comment derives. */
        private static Tolerance gradientTolerance(float[] dloss, long[] labels, float[] weight, Reduction reduction) {
            double maxWeight = 1;
            double totalWeight = 0;
            for (long t : labels) {
                if (t != CrossEntropyOps.DEFAULT_IGNORE_INDEX) {
                    totalWeight += weight == null ? 1 : weight[(int) t];
                }
            }
            if (weight != null) {
                for (float w : weight) {
                    maxWeight = Math.max(maxWeight, w);
                }
            }
            double maxScale = 0;
            for (float d : dloss) {
                maxScale = Math.max(maxScale, Math.abs(d));
            }
            if (reduction == Reduction.MEAN) {
                maxScale /= totalWeight;
            }
            return Tolerance.of(4e-7 * maxScale * maxWeight, 2e-7);
        }
    }

    private static void assertNativeFailure(int status, String... fragments) {
        assertEquals(nnfuse_h.NF_ERR_INVALID_ARGUMENT(), status);
        assertMessage(nnfuse_h.nf_last_error().getString(0), fragments);
        assertMessage(nnfuse_h.nf_last_error().getString(0), "nf_cross_entropy_fwd_f32");
    }

    private static void compare(int rows, int classes, float[] logits, long[] labels, float[] weight,
            Reduction reduction, float smoothing, String what) {
        double[] expected = CrossEntropyReference.forward(logits, labels, weight, rows, classes, reduction, -100,
                smoothing);
        try (Tensor x = Tensor.of(logits, rows, classes);
                Tensor t = Tensor.ofLongs(labels, rows);
                Tensor w = weight == null ? null : Tensor.of(weight, classes);
                Tensor loss = CrossEntropyOps.forward(x, t, w, reduction, -100, smoothing)) {
            String name = String.format(Locale.ROOT, "crossEntropy %s [%dx%d] %s", reduction, rows, classes, what);
            tolerance(reduction, rows).assertClose(name.trim(), expected, loss.toFloatArray());
        }
    }

    private static Tolerance tolerance(Reduction reduction, int rows) {
        return reduction == Reduction.NONE ? LOSS : LOSS.forReduction(rows);
    }

    /** Uniform labels in [0, classes), each replaced by the default ignore index with probability {@code ignored}. */
    private static long[] labels(long seed, int rows, int classes, double ignored) {
        float[] u = TestData.uniform(seed, 2 * rows, 0, 1);
        long[] labels = new long[rows];
        for (int i = 0; i < rows; i++) {
            labels[i] = u[2 * i] < ignored ? CrossEntropyOps.DEFAULT_IGNORE_INDEX
                    : Math.min(classes - 1, (long) (u[2 * i + 1] * classes));
        }
        return labels;
    }

    private static Case parseCase(Map<String, String> f) {
        String[] shape = f.get("shape").split(" ");
        String weight = f.get("weight");
        return new Case(f.get("case"), Integer.parseInt(shape[0]), Integer.parseInt(shape[1]),
                Reduction.valueOf(f.get("reduction").toUpperCase(Locale.ROOT)), Long.parseLong(f.get("ignore_index")),
                Float.parseFloat(f.get("label_smoothing")), floats(f.get("logits")),
                Arrays.stream(f.get("labels").split(" ")).mapToLong(Long::parseLong).toArray(),
                weight.equals("none") ? null : floats(weight),
                Arrays.stream(f.get("expected").split(" ")).mapToDouble(Double::parseDouble).toArray());
    }

    private static float[] floats(String text) {
        String[] parts = text.split(" ");
        float[] v = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            v[i] = Float.parseFloat(parts[i]);
        }
        return v;
    }
}
