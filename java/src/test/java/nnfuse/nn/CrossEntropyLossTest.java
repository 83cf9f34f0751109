package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import nnfuse.CrossEntropyOps.Reduction;
import nnfuse.DType;
import nnfuse.Tensor;
import nnfuse.reference.CrossEntropyReference;
import nnfuse.reference.SoftmaxReference;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;

/**
 * The loss module: PyTorch's defaults, the loss against the double reference,
 * its gradient against the closed form {@code (softmax - onehot) / N} and,
 * with class weights, an ignored label, smoothing and a sum, against central
 * differences of the reference ({@link FiniteDifferences}); and its state.
 *
 * <p>Tolerances: the loss is a float rounding of a double computation of
 * terms of order 1 (atol 1e-6, rtol 1e-6). Each gradient element is a
 * product of a probability and a scale, rounded to float once: below 1e-7
 * against the closed form (atol 1e-7, rtol 1e-5); the central differences
 * are good to about 1e-9, and atol 1e-6, rtol 1e-5 leaves room for the float
 * rounding of the gradient.
 */
class CrossEntropyLossTest {
    private static final Tolerance LOSS = Tolerance.of(1e-6, 1e-6);
    private static final Tolerance CLOSED_FORM = Tolerance.of(1e-7, 1e-5);
    private static final Tolerance NUMERIC = Tolerance.of(1e-6, 1e-5);
    private static final int N = 7;
    private static final int C = 5;

    @Test
    void defaultsAreMeanWithoutWeights() {
        float[] logits = TestData.normal(1, N * C, 0, 2);
        long[] labels = {0, 4, 2, 2, 1, 3, 0};
        try (CrossEntropyLoss loss = new CrossEntropyLoss(); Tensor z = Tensor.of(logits, N, C);
                Tensor y = Tensor.ofLongs(labels, N)) {
            assertEquals("CrossEntropyLoss(reduction=MEAN, ignore_index=-100, label_smoothing=0.0)", loss.toString());
            LOSS.assertClose("CrossEntropyLoss value", CrossEntropyReference.forward(logits, labels, null, N, C,
                    Reduction.MEAN, -100, 0), new float[] {loss.forward(z, y)});
            double[] expected = SoftmaxReference.softmax(logits, N, C);
            for (int i = 0; i < N; i++) {
                expected[i * C + (int) labels[i]] -= 1;
            }
            for (int i = 0; i < expected.length; i++) {
                expected[i] /= N;
            }
            try (Tensor dz = loss.backward()) {
                CLOSED_FORM.assertClose("CrossEntropyLoss gradient (p - onehot) / N", expected, dz.toFloatArray());
            }
        }
    }

    @Test
    void allOptionsAgainstDifferences() {
        float[] logits = TestData.normal(2, N * C, 0, 1.5);
        long[] labels = {3, -1, 0, 4, 4, 1, -1};
        float[] weight = {0.5f, 2f, 1f, 1.5f, 0.25f};
        for (Reduction reduction : new Reduction[] {Reduction.MEAN, Reduction.SUM}) {
            try (Tensor w = Tensor.of(weight, C); CrossEntropyLoss loss = new CrossEntropyLoss(w, reduction, -1, 0.2f);
                    Tensor z = Tensor.of(logits, N, C); Tensor y = Tensor.ofLongs(labels, N)) {
                w.fill(9f);
                LOSS.assertClose("CrossEntropyLoss value " + reduction, CrossEntropyReference.forward(logits, labels,
                        weight, N, C, reduction, -1, 0.2), new float[] {loss.forward(z, y)});
                float scale = 0.75f;
                double[] numeric = FiniteDifferences.gradient(v -> scale * CrossEntropyReference.forward(v, labels,
                        weight, N, C, reduction, -1, 0.2)[0], TestData.widen(logits));
                try (Tensor dz = loss.backward(scale)) {
                    NUMERIC.assertClose("CrossEntropyLoss gradient " + reduction, numeric, dz.toFloatArray());
                }
            }
        }
    }

    @Test
    void backwardNeedsItsForward() {
        try (CrossEntropyLoss loss = new CrossEntropyLoss(); Tensor z = Tensor.zeros(2, 3);
                Tensor y = Tensor.ofLongs(new long[] {0, 2}, 2)) {
            assertMessage(assertThrows(IllegalStateException.class, loss::backward), "CrossEntropyLoss",
                    "preceding forward");
            loss.forward(z, y);
            z.fill(5f);
            try (Tensor dz = loss.backward()) {
                assertEquals(1f / 3 / 2, dz.get(0, 1), 1e-7f, "the logits were copied at the forward");
            }
            assertMessage(assertThrows(IllegalStateException.class, loss::backward), "already used");
            loss.forward(z, y);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> loss.backward(Float.NaN)), "gradLoss",
                    "NaN");
        }
    }

    @Test
    void badArguments() {
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> new CrossEntropyLoss(null, Reduction.NONE, -100, 0f)), "MEAN or SUM", "NONE");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> new CrossEntropyLoss(null, Reduction.MEAN, -100, 1.5f)),
                "label_smoothing must be between 0.0 and 1.0. Got: 1.5");
        try (Tensor longs = Tensor.zeros(DType.INT64, 3)) {
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> new CrossEntropyLoss(longs, Reduction.MEAN, -100, 0f)), "weight", "int64[3]");
        }
        try (CrossEntropyLoss loss = new CrossEntropyLoss(); Tensor z = Tensor.zeros(2, 3);
                Tensor y = Tensor.ofLongs(new long[] {0, 3}, 2)) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> loss.forward(z, y)), "labels[1] = 3");
        }
    }

    @Test
    void closeFreesEverything() {
        CrossEntropyLoss loss;
        try (Tensor w = Tensor.of(new float[] {1, 2, 3}, 3); Tensor z = Tensor.zeros(2, 3);
                Tensor y = Tensor.ofLongs(new long[] {0, 2}, 2)) {
            loss = new CrossEntropyLoss(w, Reduction.SUM, -100, 0f);
            loss.forward(z, y);
            loss.close();
            loss.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> loss.forward(z, y)), "closed");
            assertFalse(w.isClosed(), "the caller's weight stays the caller's");
        }
    }
}
