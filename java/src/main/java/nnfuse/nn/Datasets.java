package nnfuse.nn;

import java.util.Arrays;
import nnfuse.DType;
import nnfuse.Tensor;
import nnfuse.random.Philox4x32;

/**
 * Classification data for training experiments: a deterministic synthetic
 * generator, and a seeded train/test split of given data, as scikit-learn's
 * {@code train_test_split(shuffle=True)}.
 *
 * <p>Every random number comes from the counter-based Philox4x32-10 stream of
 * a seed ({@link Philox4x32#draw}), read in a fixed order, so the same
 * arguments give bit-identical tensors on every machine and thread count.
 *
 * <p>Stateless and thread-safe.
 */
public final class Datasets {
    private static final double TWO_PI = 2 * Math.PI;

    private Datasets() {}

    /**
     * Training and test data: float32 features {@code [N, F]} and int64 class
     * labels {@code [N]} in {@code [0, classes)}. It owns the four tensors;
     * {@link #close()} frees them.
     *
     * @param flippedLabels the training labels that label noise changed (0 for real data)
     */
    public record Split(Tensor trainFeatures, Tensor trainLabels, Tensor testFeatures, Tensor testLabels,
            int classes, int flippedLabels) implements AutoCloseable {
        /** The training samples. */
        public long trainSize() {
            return trainLabels.numel();
        }

        /** The test samples. */
        public long testSize() {
            return testLabels.numel();
        }

        /** The features per sample. */
        public long features() {
            return trainFeatures.size(1);
        }

        @Override
        public void close() {
            trainFeatures.close();
            trainLabels.close();
            testFeatures.close();
            testLabels.close();
        }
    }

    /**
     * Gaussian classes around random prototypes, with label noise in the
     * training set so that a large model can overfit it (memorize the wrong
     * labels) while the test set measures the clean task. The generative
     * process, reading the Philox stream {@code seed} from draw 0 on:
     * <ol>
     *   <li>Prototypes: {@code mu[c, j] ~ N(0, 1)} for each class {@code c}
     *       and feature {@code j}, class-major.</li>
     *   <li>Training samples {@code n = 0 .. classes * trainPerClass - 1}:
     *       class {@code c = n % classes} (round robin, so every prefix of
     *       {@code k * classes} samples is balanced), features
     *       {@code x[n] = mu[c] + noise * e} with {@code e ~ N(0, I)}.</li>
     *   <li>Label noise, per training sample in order: a uniform {@code u};
     *       if {@code u <= labelNoise} the label is replaced by one of the other
     *       {@code classes - 1} classes, uniformly ({@code c + 1 + floor(v *
     *       (classes - 1)) mod classes} for a second uniform {@code v}, drawn
     *       only then); otherwise it stays {@code c}.</li>
     *   <li>Test samples, as the training ones, with their true labels.</li>
     * </ol>
     * Uniforms are cuRAND's {@code curand_uniform} of successive draws, in
     * {@code (0, 1]} ({@link Philox4x32#uniform}); normals come in pairs by the
     * Box-Muller transform (Box and Muller, 1958) of two successive uniforms
     * {@code u1, u2}: {@code sqrt(-2 ln u1) cos(2 pi u2)}, then
     * {@code sqrt(-2 ln u1) sin(2 pi u2)}, computed in double and rounded to
     * float; when a step needs an odd count of normals, the second of its
     * last pair is discarded.
     *
     * <p>The nearest-prototype rule, knowing {@code mu}, errs only where
     * noise carries a sample across the midplane of two prototypes (about
     * {@code sqrt(2 F)} apart), so {@code noise} sets how hard the task is and
     * {@code labelNoise} how much there is to memorize.
     *
     * @param classes       the number of classes, >= 2
     * @param trainPerClass training samples per class, >= 1
     * @param testPerClass  test samples per class, >= 1
     * @param features      the features per sample F, >= 1
     * @param noise         the standard deviation of the samples around their prototype, finite and >= 0
     * @param labelNoise    the probability that a training label is replaced by another class, in [0, 1]
     * @param seed          the Philox stream
     */
    public static Split synthetic(int classes, int trainPerClass, int testPerClass, int features, float noise,
            float labelNoise, long seed) {
        if (classes < 2) {
            throw new IllegalArgumentException("classes must be >= 2, got " + classes);
        }
        Module.requirePositive("trainPerClass", trainPerClass);
        Module.requirePositive("testPerClass", testPerClass);
        Module.requirePositive("features", features);
        if (!(noise >= 0) || Float.isInfinite(noise)) {
            throw new IllegalArgumentException("noise must be finite and >= 0, got " + noise);
        }
        if (!(labelNoise >= 0 && labelNoise <= 1)) {
            throw new IllegalArgumentException("labelNoise must be in [0, 1], got " + labelNoise);
        }
        int trainSize = arraySize("classes * trainPerClass", classes, trainPerClass, 1);
        int testSize = arraySize("classes * testPerClass", classes, testPerClass, 1);
        arraySize("classes * trainPerClass * features", classes, trainPerClass, features);
        arraySize("classes * testPerClass * features", classes, testPerClass, features);

        Stream stream = new Stream(seed);
        float[] prototypes = new float[arraySize("classes * features", classes, features, 1)];
        stream.normals(prototypes);
        long[] trainLabels = new long[trainSize];
        float[] trainFeatures = samples(stream, prototypes, classes, features, noise, trainLabels);
        int flipped = 0;
        for (int n = 0; n < trainSize; n++) {
            if (stream.uniform() <= labelNoise) {
                long other = (long) (stream.uniform() * (classes - 1));
                trainLabels[n] = (trainLabels[n] + 1 + Math.min(other, classes - 2)) % classes;
                flipped++;
            }
        }
        long[] testLabels = new long[testSize];
        float[] testFeatures = samples(stream, prototypes, classes, features, noise, testLabels);
        return split(trainFeatures, trainLabels, testFeatures, testLabels, features, classes, flipped);
    }

    /**
     * A seeded shuffle of {@code features} ({@code [N, F]} float32) and
     * {@code labels} ({@code [N]} int64, each >= 0) into a training and a test
     * part: the last {@code round(N * testFraction)} samples of the shuffled
     * order (at least one, and at least one left for training) are the test
     * set. The shuffle is Fisher-Yates (Durstenfeld's form) swapping sample
     * {@code i} (from {@code N - 1} down to 1) with {@code floor(u * (i + 1))}
     * for successive uniforms {@code u} of the Philox stream {@code seed}.
     * The class count is the largest label plus one. The tensors passed in
     * stay the caller's; the split holds copies.
     */
    public static Split trainTestSplit(Tensor features, Tensor labels, double testFraction, long seed) {
        checkSplitArguments(features, labels, testFraction);
        int n = (int) labels.numel();
        int width = (int) features.size(1);
        float[] x = features.toFloatArray();
        long[] y = labels.toLongArray();
        long maxLabel = Arrays.stream(y).max().orElseThrow();
        int[] order = shuffled(n, seed);
        int test = (int) Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
        int train = n - test;
        float[] trainX = new float[train * width];
        float[] testX = new float[test * width];
        long[] trainY = new long[train];
        long[] testY = new long[test];
        for (int i = 0; i < n; i++) {
            int src = order[i];
            boolean isTrain = i < train;
            int dst = isTrain ? i : i - train;
            System.arraycopy(x, src * width, isTrain ? trainX : testX, dst * width, width);
            (isTrain ? trainY : testY)[dst] = y[src];
        }
        return split(trainX, trainY, testX, testY, width, Math.toIntExact(maxLabel + 1), 0);
    }

    private static void checkSplitArguments(Tensor features, Tensor labels, double testFraction) {
        if (features == null || labels == null) {
            throw new IllegalArgumentException("features and labels must not be null");
        }
        if (features.rank() != 2 || features.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("features must be float32 [N, F], got " + features.describe());
        }
        if (labels.rank() != 1 || labels.dtype() != DType.INT64 || labels.numel() != features.size(0)) {
            throw new IllegalArgumentException("labels must be int64 [N] with N = features.size(0), got labels "
                    + labels.describe() + " and features " + features.describe());
        }
        if (labels.numel() < 2) {
            throw new IllegalArgumentException("need at least 2 samples to split, got features "
                    + features.describe());
        }
        if (!(testFraction > 0 && testFraction < 1)) {
            throw new IllegalArgumentException("testFraction must be in (0, 1), got " + testFraction);
        }
        long[] y = labels.toLongArray();
        for (int i = 0; i < y.length; i++) {
            if (y[i] < 0 || y[i] >= Integer.MAX_VALUE) {
                throw new IllegalArgumentException("labels[" + i + "] must be in [0, " + Integer.MAX_VALUE
                        + "), got " + y[i]);
            }
        }
    }

    /** Features {@code mu[c] + noise * e} for samples of classes {@code n % classes}, whose labels it writes. */
    private static float[] samples(Stream stream, float[] prototypes, int classes, int features, float noise,
            long[] labels) {
        float[] x = new float[labels.length * features];
        stream.normals(x);
        for (int n = 0; n < labels.length; n++) {
            int c = n % classes;
            labels[n] = c;
            for (int j = 0; j < features; j++) {
                x[n * features + j] = (float) (prototypes[c * features + j] + (double) noise * x[n * features + j]);
            }
        }
        return x;
    }

    /** The identity permutation of {@code n} shuffled by Fisher-Yates on the Philox stream {@code seed}. */
    private static int[] shuffled(int n, long seed) {
        Stream stream = new Stream(seed);
        int[] order = new int[n];
        Arrays.setAll(order, i -> i);
        for (int i = n - 1; i > 0; i--) {
            int j = (int) Math.min(i, (long) (stream.uniform() * (i + 1)));
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    private static Split split(float[] trainX, long[] trainY, float[] testX, long[] testY, int features,
            int classes, int flipped) {
        Tensor[] made = new Tensor[4];
        try {
            made[0] = Tensor.of(trainX, trainY.length, features);
            made[1] = Tensor.ofLongs(trainY, trainY.length);
            made[2] = Tensor.of(testX, testY.length, features);
            made[3] = Tensor.ofLongs(testY, testY.length);
            return new Split(made[0], made[1], made[2], made[3], classes, flipped);
        } catch (RuntimeException e) {
            Arrays.stream(made).filter(t -> t != null).forEach(Tensor::close);
            throw e;
        }
    }

    /** {@code a * b * c} as an int, or an exception naming {@code what} when a Java array cannot hold it. */
    private static int arraySize(String what, long a, long b, long c) {
        long n = a * b * c;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + " = " + n + " is too large for one tensor built in Java");
        }
        return (int) n;
    }

    /** Successive draws of one Philox stream, a block of four at a time (the order of {@link Philox4x32#draw}). */
    private static final class Stream {
        private final long seed;
        private long index;
        private int[] block;

        Stream(long seed) {
            this.seed = seed;
        }

        float uniform() {
            if ((index & 3) == 0) {
                long counter = index >>> 2;
                block = Philox4x32.block((int) counter, (int) (counter >>> 32), 0, 0, (int) seed,
                        (int) (seed >>> 32));
            }
            return Philox4x32.uniform(block[(int) (index++ & 3)]);
        }

        /** Fills {@code out} with standard normals, in Box-Muller pairs. */
        void normals(float[] out) {
            for (int i = 0; i < out.length; i += 2) {
                double radius = Math.sqrt(-2 * Math.log(uniform()));
                double angle = TWO_PI * uniform();
                out[i] = (float) (radius * Math.cos(angle));
                if (i + 1 < out.length) {
                    out[i + 1] = (float) (radius * Math.sin(angle));
                }
            }
        }
    }
}
