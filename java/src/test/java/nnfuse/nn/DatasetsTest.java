package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import nnfuse.DType;
import nnfuse.Tensor;
import nnfuse.random.Philox4x32;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;

/**
 * The synthetic classification generator and the seeded train/test split.
 * Expected values come from the documented generative process recomputed here
 * from {@link Philox4x32#draw} and the Box-Muller formula, or from counting.
 * Tolerances: a recomputed feature is a float32 prototype plus {@code noise}
 * times a float32 normal, rounded to float32 once more, so it is within a few
 * float32 ulps: atol 1e-6, rtol 1e-6. Sample statistics over {@code n} draws
 * are checked against their known expectation within five standard errors
 * (a false alarm about once in 1.7 million runs, and the data are fixed by the
 * seed, so a pass is permanent).
 */
class DatasetsTest {
    private static final Tolerance RECOMPUTED = Tolerance.of(1e-6, 1e-6);

    @Test
    void shapesAndTypes() {
        try (Datasets.Split d = Datasets.synthetic(7, 3, 2, 52, 0.5f, 0.2f, 1)) {
            assertArrayEquals(new long[] {21, 52}, d.trainFeatures().shape());
            assertArrayEquals(new long[] {21}, d.trainLabels().shape());
            assertArrayEquals(new long[] {14, 52}, d.testFeatures().shape());
            assertArrayEquals(new long[] {14}, d.testLabels().shape());
            assertEquals(DType.FLOAT32, d.trainFeatures().dtype());
            assertEquals(DType.INT64, d.trainLabels().dtype());
            assertEquals(DType.INT64, d.testLabels().dtype());
            assertEquals(7, d.classes());
            assertEquals(21, d.trainSize());
            assertEquals(14, d.testSize());
            assertEquals(52, d.features());
        }
    }

    @Test
    void sameSeedSameDataOtherSeedOtherData() {
        try (Datasets.Split a = Datasets.synthetic(10, 5, 3, 33, 1f, 0.3f, 42);
                Datasets.Split b = Datasets.synthetic(10, 5, 3, 33, 1f, 0.3f, 42);
                Datasets.Split c = Datasets.synthetic(10, 5, 3, 33, 1f, 0.3f, 43)) {
            Tolerance.assertBitIdentical("train features", a.trainFeatures().toFloatArray(),
                    b.trainFeatures().toFloatArray());
            Tolerance.assertBitIdentical("test features", a.testFeatures().toFloatArray(),
                    b.testFeatures().toFloatArray());
            Tolerance.assertExact("train labels", a.trainLabels().toLongArray(), b.trainLabels().toLongArray());
            Tolerance.assertExact("test labels", a.testLabels().toLongArray(), b.testLabels().toLongArray());
            assertFalse(Arrays.equals(a.trainFeatures().toFloatArray(), c.trainFeatures().toFloatArray()));
        }
    }

    /** Pure Java, so the library's thread count cannot matter; checked all the same, as for every op. */
    @Test
    void independentOfTheThreadCount() {
        List<float[]> runs = Threads.atEachCount(() -> {
            try (Datasets.Split d = Datasets.synthetic(8, 4, 2, 31, 0.7f, 0.25f, 5)) {
                return d.trainFeatures().toFloatArray();
            }
        });
        for (float[] run : runs) {
            Tolerance.assertBitIdentical("train features across thread counts", runs.get(0), run);
        }
    }

    @Test
    void labelsInRangeAndClassesBalanced() {
        int classes = 13;
        try (Datasets.Split d = Datasets.synthetic(classes, 4, 3, 8, 1f, 0.5f, 9)) {
            for (long label : d.trainLabels().toLongArray()) {
                assertTrue(label >= 0 && label < classes, "train label " + label);
            }
            long[] test = d.testLabels().toLongArray();
            for (int n = 0; n < test.length; n++) {
                assertEquals(n % classes, test[n], "test sample " + n + " is of class n % classes");
            }
        }
        try (Datasets.Split clean = Datasets.synthetic(classes, 4, 3, 8, 1f, 0f, 9)) {
            long[] train = clean.trainLabels().toLongArray();
            int[] counts = new int[classes];
            for (int n = 0; n < train.length; n++) {
                assertEquals(n % classes, train[n], "train sample " + n + " without label noise");
                counts[(int) train[n]]++;
            }
            int[] four = new int[classes];
            Arrays.fill(four, 4);
            assertArrayEquals(four, counts);
            assertEquals(0, clean.flippedLabels());
        }
    }

    @Test
    void labelNoiseFlipsToAnotherClass() {
        int classes = 5;
        try (Datasets.Split all = Datasets.synthetic(classes, 40, 1, 4, 1f, 1f, 3)) {
            long[] train = all.trainLabels().toLongArray();
            for (int n = 0; n < train.length; n++) {
                assertNotEquals(n % classes, train[n], "sample " + n + " with label noise 1");
            }
            assertEquals(train.length, all.flippedLabels());
        }
        int n = 100 * 40;
        float rate = 0.3f;
        try (Datasets.Split some = Datasets.synthetic(100, 40, 1, 4, 1f, rate, 3)) {
            long[] train = some.trainLabels().toLongArray();
            int changed = 0;
            for (int i = 0; i < n; i++) {
                changed += train[i] != i % 100 ? 1 : 0;
            }
            assertEquals(changed, some.flippedLabels());
            double standardError = Math.sqrt(n * rate * (1 - rate));
            Tolerance.of(5 * standardError, 0).assertClose("flipped labels (binomial)", new double[] {n * rate},
                    new double[] {changed});
        }
    }

    /** The first prototype entries and the first training sample, recomputed from the documented process. */
    @Test
    void followsTheDocumentedProcess() {
        long seed = 77;
        int classes = 3;
        int features = 6;
        float noise = 0.25f;
        try (Datasets.Split prototypes = Datasets.synthetic(classes, 2, 1, features, 0f, 0f, seed);
                Datasets.Split noisy = Datasets.synthetic(classes, 2, 1, features, noise, 0f, seed)) {
            float[] mu = prototypes.trainFeatures().toFloatArray();
            double[] expectedMu = new double[classes * features];
            for (int i = 0; i < expectedMu.length; i++) {
                expectedMu[i] = normal(seed, i);
            }
            RECOMPUTED.assertClose("prototypes (noise 0: row n is mu[n % classes])", expectedMu,
                    Arrays.copyOf(mu, classes * features));
            float[] testRows = prototypes.testFeatures().toFloatArray();
            Tolerance.assertBitIdentical("test rows at noise 0", Arrays.copyOf(mu, testRows.length), testRows);

            float[] x = noisy.trainFeatures().toFloatArray();
            double[] expectedFirst = new double[features];
            for (int j = 0; j < features; j++) {
                expectedFirst[j] = (double) (float) expectedMu[j]
                        + noise * (double) (float) normal(seed, classes * features + j);
            }
            RECOMPUTED.assertClose("first training sample", expectedFirst, Arrays.copyOf(x, features));
        }
    }

    @Test
    void noiseHasTheRequestedStandardDeviation() {
        float noise = 0.5f;
        try (Datasets.Split clean = Datasets.synthetic(10, 100, 1, 52, 0f, 0f, 11);
                Datasets.Split noisy = Datasets.synthetic(10, 100, 1, 52, noise, 0f, 11)) {
            float[] mu = clean.trainFeatures().toFloatArray();
            float[] x = noisy.trainFeatures().toFloatArray();
            double sum = 0;
            double sumSquares = 0;
            for (int i = 0; i < x.length; i++) {
                double e = x[i] - mu[i];
                sum += e;
                sumSquares += e * e;
            }
            int n = x.length;
            double variance = (double) noise * noise;
            Tolerance.of(5 * Math.sqrt(variance / n), 0).assertClose("mean of x - mu", new double[] {0},
                    new double[] {sum / n});
            Tolerance.of(5 * variance * Math.sqrt(2.0 / n), 0).assertClose("variance of x - mu",
                    new double[] {variance}, new double[] {sumSquares / n});
        }
    }

    @Test
    void rejectsBadArguments() {
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Datasets.synthetic(1, 1, 1, 1, 0f, 0f, 0)), "classes must be >= 2, got 1");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Datasets.synthetic(2, 0, 1, 1, 0f, 0f, 0)), "trainPerClass must be >= 1, got 0");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Datasets.synthetic(2, 1, 0, 1, 0f, 0f, 0)), "testPerClass must be >= 1, got 0");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Datasets.synthetic(2, 1, 1, 0, 0f, 0f, 0)), "features must be >= 1, got 0");
        for (float noise : new float[] {-1f, Float.NaN, Float.POSITIVE_INFINITY}) {
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> Datasets.synthetic(2, 1, 1, 1, noise, 0f, 0)), "noise must be finite and >= 0, got "
                    + noise);
        }
        for (float labelNoise : new float[] {-0.1f, 1.5f, Float.NaN}) {
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> Datasets.synthetic(2, 1, 1, 1, 0f, labelNoise, 0)), "labelNoise must be in [0, 1], got "
                    + labelNoise);
        }
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Datasets.synthetic(1000, 100_000, 1, 52, 0f, 0f, 0)),
                "classes * trainPerClass * features = 5200000000 is too large");
    }

    @Test
    void splitKeepsEachRowWithItsLabel() {
        int n = 23;
        int width = 3;
        float[] x = new float[n * width];
        long[] y = new long[n];
        for (int i = 0; i < n; i++) {
            Arrays.fill(x, i * width, (i + 1) * width, i);
            y[i] = i % 4;
        }
        try (Tensor features = Tensor.of(x, n, width); Tensor labels = Tensor.ofLongs(y, n);
                Datasets.Split split = Datasets.trainTestSplit(features, labels, 0.2, 5);
                Datasets.Split again = Datasets.trainTestSplit(features, labels, 0.2, 5);
                Datasets.Split other = Datasets.trainTestSplit(features, labels, 0.2, 6)) {
            assertEquals(5, split.testSize(), "round(23 * 0.2) test samples");
            assertEquals(18, split.trainSize());
            assertEquals(4, split.classes(), "largest label + 1");
            assertEquals(0, split.flippedLabels());
            boolean[] seen = new boolean[n];
            collect(split.trainFeatures(), split.trainLabels(), width, seen);
            collect(split.testFeatures(), split.testLabels(), width, seen);
            for (int i = 0; i < n; i++) {
                assertTrue(seen[i], "row " + i + " is in exactly one part");
            }
            Tolerance.assertBitIdentical("same seed, same split", split.trainFeatures().toFloatArray(),
                    again.trainFeatures().toFloatArray());
            assertFalse(Arrays.equals(split.trainFeatures().toFloatArray(), other.trainFeatures().toFloatArray()),
                    "another seed shuffles differently");
            assertArrayEquals(x, features.toFloatArray(), "the inputs stay unchanged");
        }
    }

    @Test
    void splitKeepsOneSampleOnEachSide() {
        try (Tensor features = Tensor.of(new float[] {1, 2}, 2, 1);
                Tensor labels = Tensor.ofLongs(new long[] {0, 1}, 2);
                Datasets.Split split = Datasets.trainTestSplit(features, labels, 0.01, 0)) {
            assertEquals(1, split.trainSize());
            assertEquals(1, split.testSize());
        }
    }

    @Test
    void splitRejectsBadArguments() {
        try (Tensor x = Tensor.zeros(4, 2); Tensor y = Tensor.ofLongs(new long[] {0, 1, 2, 3}, 4);
                Tensor flat = Tensor.zeros(8); Tensor short3 = Tensor.ofLongs(new long[] {0, 1, 2}, 3);
                Tensor floatLabels = Tensor.zeros(4); Tensor one = Tensor.zeros(1, 2);
                Tensor oneLabel = Tensor.ofLongs(new long[] {0}, 1);
                Tensor negative = Tensor.ofLongs(new long[] {0, -1, 2, 3}, 4)) {
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> Datasets.trainTestSplit(flat, y, 0.2, 0)), "features must be float32 [N, F]", "float32[8]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> Datasets.trainTestSplit(x, short3, 0.2, 0)), "labels must be int64 [N]", "int64[3]",
                    "float32[4, 2]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> Datasets.trainTestSplit(x, floatLabels, 0.2, 0)), "labels must be int64 [N]",
                    "float32[4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> Datasets.trainTestSplit(one, oneLabel, 0.2, 0)), "need at least 2 samples",
                    "float32[1, 2]");
            for (double fraction : new double[] {0, 1, Double.NaN}) {
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> Datasets.trainTestSplit(x, y, fraction, 0)), "testFraction must be in (0, 1), got "
                        + fraction);
            }
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> Datasets.trainTestSplit(x, negative, 0.2, 0)), "labels[1] must be in [0, ", "got -1");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> Datasets.trainTestSplit(null, y, 0.2, 0)), "features and labels must not be null");
        }
    }

    /** Marks the original row index (the feature value) of each row, checking its label is the original's. */
    private static void collect(Tensor features, Tensor labels, int width, boolean[] seen) {
        float[] x = features.toFloatArray();
        long[] y = labels.toLongArray();
        for (int r = 0; r < y.length; r++) {
            int original = (int) x[r * width];
            assertFalse(seen[original], "row " + original + " appears twice");
            seen[original] = true;
            assertEquals(original % 4, y[r], "row " + original + " keeps its label");
        }
    }

    /** Normal {@code k} of the stream: Box-Muller of uniforms {@code 2 * floor(k / 2)} and the next one. */
    private static double normal(long seed, int k) {
        long pair = k & ~1L;
        double u1 = Philox4x32.uniform(Philox4x32.draw(seed, pair));
        double u2 = Philox4x32.uniform(Philox4x32.draw(seed, pair + 1));
        double radius = Math.sqrt(-2 * Math.log(u1));
        return (k & 1) == 0 ? radius * Math.cos(2 * Math.PI * u2) : radius * Math.sin(2 * Math.PI * u2);
    }
}
