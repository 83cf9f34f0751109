package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SequencedMap;
import nnfuse.DType;
import nnfuse.Tensor;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;

/**
 * The training loop: its shuffle, one epoch against the same steps written
 * out by hand (bit for bit, the loop adds no arithmetic of its own but the
 * epoch's mean), learning a separable problem, evaluation-mode accuracy, and
 * its argument checks.
 *
 * <p>Tolerance: the epoch's loss is the float loss plus the double penalty,
 * recomputed here from the same values in the same order, so it is compared
 * exactly; accuracies are ratios of counts, compared exactly.
 */
class TrainerTest {
    private static final int N = 96;
    private static final int FEATURES = 8;
    private static final int CLASSES = 3;

    @Test
    void shuffleIsADeterministicPermutation() {
        for (int n : new int[] {1, 2, 7, 129}) {
            int[] order = Trainer.shuffle(n, 42);
            int[] sorted = order.clone();
            Arrays.sort(sorted);
            for (int i = 0; i < n; i++) {
                assertEquals(i, sorted[i], "a permutation of 0.." + (n - 1));
            }
            assertArrayEquals(order, Trainer.shuffle(n, 42), "the seed fixes it");
        }
        assertFalse(Arrays.equals(Trainer.shuffle(129, 1), Trainer.shuffle(129, 2)), "another seed, another order");
    }

    /** One epoch of one full batch is one step of zeroGrad, forward, loss, backward, penalty, step. */
    @Test
    void oneEpochIsTheStepsWrittenOut() {
        long shuffleSeed = 5;
        double lambda = 0.01;
        try (Data data = blobs(1); Sequential viaTrainer = mlp(2); Sequential byHand = mlp(2);
                CrossEntropyLoss loss = new CrossEntropyLoss();
                SGD sgdTrainer = new SGD(viaTrainer, 0.1f, 0.9f, 0f, 0f, false, ParameterFilters.all());
                SGD sgdHand = new SGD(byHand, 0.1f, 0.9f, 0f, 0f, false, ParameterFilters.all())) {
            L2Penalty penalty = new L2Penalty(lambda, ParameterFilters.excludingBiasesAndNormalization(byHand));
            Trainer.EpochStats stats = new Trainer(viaTrainer, sgdTrainer, loss, penalty)
                    .trainEpoch(data.x, data.labels, N, shuffleSeed);

            int[] order = Trainer.shuffle(N, shuffleSeed);
            float[] x = data.x.toFloatArray();
            long[] labels = data.labels.toLongArray();
            float[] xs = new float[x.length];
            long[] ys = new long[N];
            for (int i = 0; i < N; i++) {
                System.arraycopy(x, order[i] * FEATURES, xs, i * FEATURES, FEATURES);
                ys[i] = labels[order[i]];
            }
            double objective;
            long correct = 0;
            try (Tensor xb = Tensor.of(xs, N, FEATURES); Tensor yb = Tensor.ofLongs(ys, N)) {
                sgdHand.zeroGrad();
                try (Tensor logits = byHand.forward(xb)) {
                    objective = loss.forward(logits, yb);
                    float[] z = logits.toFloatArray();
                    for (int i = 0; i < N; i++) {
                        correct += argmax(z, i) == ys[i] ? 1 : 0;
                    }
                }
                objective += penalty.value(byHand);
                try (Tensor dlogits = loss.backward()) {
                    byHand.backward(dlogits).close();
                }
                penalty.addGradient(byHand);
                sgdHand.step();
            }
            assertEquals(new Trainer.EpochStats(1, objective, (double) correct / N), stats);
            assertBitIdentical(byHand, viaTrainer, "trainer vs by hand");
        }
    }

    @Test
    void learnsSeparableClasses() {
        try (Data data = blobs(3); Sequential model = mlp(4); CrossEntropyLoss loss = new CrossEntropyLoss();
                SGD sgd = new SGD(model, 0.05f, 0.9f, 0f, 1e-4f, false,
                        ParameterFilters.excludingBiasesAndNormalization(model))) {
            Trainer trainer = new Trainer(model, sgd, loss, null);
            Trainer.EpochStats first = trainer.trainEpoch(data.x, data.labels, 16, 0);
            Trainer.EpochStats last = first;
            for (int epoch = 1; epoch < 10; epoch++) {
                last = trainer.trainEpoch(data.x, data.labels, 16, epoch);
            }
            assertEquals(1, first.epoch());
            assertEquals(10, last.epoch());
            assertTrue(last.loss() < first.loss() / 4, first + " -> " + last);
            assertTrue(last.accuracy() >= 0.95, last.toString());
            assertTrue(trainer.accuracy(data.x, data.labels, 7) >= 0.95);
        }
    }

    /** accuracy runs in eval mode (dropout off), in any batch size, and restores training mode. */
    @Test
    void accuracyIsAnEvalModeArgmax() {
        try (Data data = blobs(5); Sequential model = new Sequential(new Linear(FEATURES, 16, true, 6),
                new Dropout(0.9f, true, 7), new ReLU(), new Linear(16, CLASSES, true, 8));
                CrossEntropyLoss loss = new CrossEntropyLoss(); SGD sgd = new SGD(model, 0.1f)) {
            Trainer trainer = new Trainer(model, sgd, loss, null);
            double whole = trainer.accuracy(data.x, data.labels, N);
            assertTrue(model.isTraining(), "the training mode is restored");
            model.eval();
            long correct = 0;
            try (Tensor logits = model.forward(data.x)) {
                float[] z = logits.toFloatArray();
                long[] y = data.labels.toLongArray();
                for (int i = 0; i < N; i++) {
                    correct += argmax(z, i) == y[i] ? 1 : 0;
                }
            }
            assertEquals((double) correct / N, whole);
            assertEquals(whole, trainer.accuracy(data.x, data.labels, 5), "batches do not change it");
            assertFalse(model.isTraining(), "an eval model stays in eval mode");
        }
    }

    @Test
    void badArguments() {
        try (Sequential model = mlp(1); CrossEntropyLoss loss = new CrossEntropyLoss(); SGD sgd = new SGD(model, 0.1f);
                Tensor x = Tensor.zeros(4, FEATURES); Tensor labels = Tensor.ofLongs(new long[] {0, 1, 2}, 3);
                Tensor floatLabels = Tensor.zeros(4); Tensor flat = Tensor.zeros(4 * FEATURES)) {
            Trainer trainer = new Trainer(model, sgd, loss, null);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> trainer.trainEpoch(x, labels, 2, 0)),
                    "labels", "N = 4", "int64[3]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> trainer.accuracy(x, floatLabels, 2)),
                    "labels", "float32[4]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> trainer.trainEpoch(flat, labels, 2, 0)),
                    "x", "float32[32]");
            try (Tensor good = Tensor.zeros(DType.INT64, 4)) {
                assertMessage(assertThrows(IllegalArgumentException.class, () -> trainer.trainEpoch(x, good, 0, 0)),
                        "batchSize", "0");
            }
            assertMessage(assertThrows(IllegalArgumentException.class, () -> new Trainer(model, null, loss, null)),
                    "optimizer");
        }
    }

    /** Samples and their labels. */
    private record Data(Tensor x, Tensor labels) implements AutoCloseable {
        @Override
        public void close() {
            x.close();
            labels.close();
        }
    }

    /** Three Gaussian blobs in 8 dimensions, 32 samples each: centers from N(0, 4), spread 0.5. */
    private static Data blobs(long seed) {
        float[] centers = TestData.normal(seed, CLASSES * FEATURES, 0, 2);
        float[] noise = TestData.normal(seed + 1, N * FEATURES, 0, 0.5);
        float[] x = new float[N * FEATURES];
        long[] labels = new long[N];
        for (int i = 0; i < N; i++) {
            labels[i] = i % CLASSES;
            for (int j = 0; j < FEATURES; j++) {
                x[i * FEATURES + j] = centers[(int) labels[i] * FEATURES + j] + noise[i * FEATURES + j];
            }
        }
        return new Data(Tensor.of(x, N, FEATURES), Tensor.ofLongs(labels, N));
    }

    private static Sequential mlp(long seed) {
        return new Sequential(new FusedLinearLayerNormReLU(FEATURES, 16, seed), new Linear(16, CLASSES, true,
                seed + 1));
    }

    private static int argmax(float[] z, int row) {
        int best = 0;
        for (int j = 1; j < CLASSES; j++) {
            if (z[row * CLASSES + j] > z[row * CLASSES + best]) {
                best = j;
            }
        }
        return best;
    }

    static void assertBitIdentical(Module expected, Module actual, String what) {
        SequencedMap<String, Tensor> e = expected.stateDict();
        actual.stateDict().forEach((name, t) -> {
            if (t.dtype() == DType.INT64) {
                Tolerance.assertExact(what + " " + name, e.get(name).toLongArray(), t.toLongArray());
            } else {
                Tolerance.assertBitIdentical(what + " " + name, e.get(name).toFloatArray(), t.toFloatArray());
            }
        });
    }
}
