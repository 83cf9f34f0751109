package nnfuse.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SequencedMap;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Stream;
import nnfuse.Nnfuse;
import nnfuse.Tensor;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Training the worksheet's model end to end: reproducible bit for bit at any
 * thread count, and the fused model's gradients equal to the unfused one's.
 *
 * <p>Reproducibility and fused against unfused are compared bit for bit:
 * every kernel is deterministic whatever the thread count, and the fused
 * block's forward and backward share the unfused ops' routines (see
 * {@link nnfuse.LinearLnReluOps}). Against the double reference, atol 1e-6 +
 * rtol 1e-6: the parameters are of order 0.1 to 1 and are rounded to float
 * after each step (half an ulp, at most 6e-8); the float gradients differ
 * from the double ones by rounding in sums of up to 1000 terms, about 1e-6 of
 * gradients of at most 0.1, which lr 0.1 turns into 1e-8 per step; three
 * steps, momentum included, stay below 3e-7 (the largest error seen is
 * 1.5e-7).
 */
class TrainingTest {
    private static final int N = 192;
    private static final int FEATURES = 52;
    private static final int CLASSES = 1000;
    private static final Tolerance PARAMETERS = Tolerance.of(1e-6, 1e-6);

    /** The worksheet's model fused and unfused, and with batch norm and dropout. */
    static Stream<Arguments> models() {
        return Stream.of(
                Arguments.of("worksheet fused", (Supplier<Sequential>) () -> Models.discussion04(true, 3)),
                Arguments.of("worksheet unfused", (Supplier<Sequential>) () -> Models.discussion04(false, 3)),
                Arguments.of("batch norm and dropout", (Supplier<Sequential>) () -> new Sequential(
                        new Linear(FEATURES, 128, true, 3), new BatchNorm1d(128), new ReLU(),
                        new Dropout(0.2f, true, 4), new FusedLinearLayerNormReLU(128, 64, 5),
                        new Dropout(0.5f, true, 6), new Linear(64, CLASSES, true, 7))));
    }

    /**
     * Same seeds, same data, same shuffles: after two epochs of 3 steps of 64
     * rows (SGD with Nesterov momentum, decay on the weights only, and an
     * explicit L2 penalty), every parameter and buffer is bit-identical at 1,
     * 2 and 4 threads and in a second run at 2 threads, and so are the epoch
     * figures.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void reproducibleAtAnyThreadCount(String name, Supplier<Sequential> make) {
        try (Tensor x = Tensor.of(TestData.normal(1, N * FEATURES, 0, 1), N, FEATURES);
                Tensor labels = Tensor.ofLongs(labels(N), N)) {
            List<Run> runs = new ArrayList<>(Threads.atEachCount(() -> train(make.get(), x, labels)));
            int previous = Nnfuse.threads();
            try {
                Nnfuse.setThreads(2);
                runs.add(train(make.get(), x, labels));
            } finally {
                Nnfuse.setThreads(previous);
            }
            try {
                for (Run run : runs) {
                    TrainerTest.assertBitIdentical(runs.getFirst().model(), run.model(), name + " trained");
                    assertEquals(runs.getFirst().stats(), run.stats(), name + " epoch figures");
                }
            } finally {
                runs.forEach(r -> r.model().close());
            }
        }
    }

    /**
     * One forward and backward of the same batch through the fused and the
     * unfused model from the same weights: the same logits gradient in, the
     * same parameter gradients and input gradient out, bit for bit.
     */
    @Test
    void fusedAndUnfusedGiveTheSameGradients() {
        try (Sequential fused = Models.discussion04(true, 9); Sequential unfused = Models.discussion04(false, 9);
                CrossEntropyLoss loss = new CrossEntropyLoss();
                Tensor x = Tensor.of(TestData.normal(10, 64 * FEATURES, 0, 1), 64, FEATURES);
                Tensor labels = Tensor.ofLongs(labels(64), 64)) {
            float[] dxFused = inputGradient(fused, loss, x, labels);
            float[] dxUnfused = inputGradient(unfused, loss, x, labels);
            Tolerance.assertBitIdentical("fused vs unfused input gradient", dxUnfused, dxFused);
            SequencedMap<String, Parameter> u = unfused.namedParameters();
            fused.namedParameters().forEach((key, p) -> Tolerance.assertBitIdentical("fused vs unfused gradient "
                    + key, u.get(key).grad().toFloatArray(), p.grad().toFloatArray()));
            assertEquals(14, u.size());
        }
    }

    /**
     * Three SGD steps (momentum 0.9, dampening 0.1, weight decay 0.01 on the
     * weights, lr 0.1) on three batches of 16 rows, natively and in the double
     * reference ({@link WorksheetTrainingReference}) from the same weights:
     * every parameter agrees within {@link #PARAMETERS}.
     */
    @ParameterizedTest(name = "fused = {0}")
    @ValueSource(booleans = {true, false})
    void threeStepsMatchTheDoubleReference(boolean fused) {
        int rows = 16;
        float[] data = TestData.normal(13, 3 * rows * FEATURES, 0, 1);
        long[] allLabels = labels(3 * rows);
        try (Sequential model = Models.discussion04(fused, 14); CrossEntropyLoss loss = new CrossEntropyLoss()) {
            Predicate<String> decayed = ParameterFilters.excludingBiasesAndNormalization(model);
            WorksheetTrainingReference reference = new WorksheetTrainingReference(model);
            try (SGD sgd = new SGD(model, 0.1f, 0.9f, 0.1f, 0.01f, false, decayed)) {
                for (int step = 0; step < 3; step++) {
                    float[] xs = Arrays.copyOfRange(data, step * rows * FEATURES, (step + 1) * rows * FEATURES);
                    long[] ys = Arrays.copyOfRange(allLabels, step * rows, (step + 1) * rows);
                    try (Tensor x = Tensor.of(xs, rows, FEATURES); Tensor y = Tensor.ofLongs(ys, rows)) {
                        OptimizerTest.gradientStep(model, loss, x, y);
                    }
                    sgd.step();
                    reference.step(xs, ys, rows, 0.1, 0.9, 0.1, 0.01, false, decayed);
                }
            }
            model.namedParameters().forEach((name, p) -> PARAMETERS.assertClose("3 SGD steps vs double reference "
                    + name, reference.parameters().get(name), p.data().toFloatArray()));
        }
    }

    private static float[] inputGradient(Module model, CrossEntropyLoss loss, Tensor x, Tensor labels) {
        try (Tensor logits = model.forward(x)) {
            loss.forward(logits, labels);
        }
        try (Tensor dlogits = loss.backward(); Tensor dx = model.backward(dlogits)) {
            return dx.toFloatArray();
        }
    }

    /** A trained model and its epochs' figures. */
    private record Run(Sequential model, List<Trainer.EpochStats> stats) {}

    private static Run train(Sequential model, Tensor x, Tensor labels) {
        try (CrossEntropyLoss loss = new CrossEntropyLoss();
                SGD sgd = new SGD(model, 0.05f, 0.9f, 0f, 1e-3f, true,
                        ParameterFilters.excludingBiasesAndNormalization(model))) {
            Trainer trainer = new Trainer(model, sgd, loss, new L2Penalty(1e-4, ParameterFilters.all()));
            return new Run(model, List.of(trainer.trainEpoch(x, labels, 64, 11),
                    trainer.trainEpoch(x, labels, 64, 12)));
        }
    }

    /** Labels spread over the 1000 classes, reproducibly. */
    static long[] labels(int n) {
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) {
            labels[i] = (i * 389L + 17) % CLASSES;
        }
        return labels;
    }
}
