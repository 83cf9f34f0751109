package nnfuse.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import nnfuse.nn.Datasets;
import nnfuse.nn.Models;
import nnfuse.nn.Sequential;

/**
 * Section 5 of the worksheet, l2 regularization, as an experiment: the
 * worksheet's model trained on synthetic data that it can overfit, at lambda
 * = 0 (theta*), a tiny lambda, a moderate one and a very large one; the table
 * of {@code ||theta||_2} and accuracies, the verdict on each claim, and a PNG
 * of the training curves.
 */
final class Regularization {
    /**
     * The synthetic data ({@link Datasets#synthetic}): 52 features as the
     * worksheet's model takes.
     */
    record Data(int classes, int trainPerClass, int testPerClass, float noise, float labelNoise, long seed) {
        Datasets.Split generate() {
            return Datasets.synthetic(classes, trainPerClass, testPerClass, FEATURES, noise, labelNoise, seed);
        }
    }

    static final int FEATURES = 52;
    static final Data DATA = new Data(10, 100, 300, 2f, 0.2f, 1);
    static final Experiment.Config TRAINING = new Experiment.Config(40, 32, 0.005f, 0.9f, 2026, 100,
            new double[] {0, 1e-7, 0.07, 1});
    static final Path PLOT = Path.of("target", "section5.png");

    private Regularization() {}

    /** Why the demo's data have fewer classes than the worksheet's model. */
    static final String CLASS_COUNT_NOTE = "Classes: 10, not the worksheet's 1000. A trial run with 1000 classes"
            + " (5 noisy samples each, 30 epochs, about 20 s per lambda on this machine) ended at 63.8% test"
            + " accuracy for lambda = 0, 58.9% for lambda = 0.003 and 0.4% for lambda = 0.01: a 20-wide last layer"
            + " separating 1000 classes needs more samples per class than this time budget trains on before a"
            + " penalty can help. With 10 classes of 100 samples the comparison shows within a minute.";

    /** The demo's section 5 with its data, training settings and plot path. */
    static void run(PrintStream out, Progress progress) throws IOException {
        run(out, DATA, TRAINING, progress, PLOT, CLASS_COUNT_NOTE);
    }

    /**
     * Section 5 on {@code data}, trained as {@code config} says; {@code note}
     * (or null) follows the description of the data.
     */
    static void run(PrintStream out, Data data, Experiment.Config config, Progress progress, Path plot, String note)
            throws IOException {
        out.println("== 5. L2 Regularization ==");
        try (Datasets.Split split = data.generate()) {
            out.printf(Locale.ROOT, "Data: Datasets.synthetic(classes=%d, trainPerClass=%d, testPerClass=%d,"
                    + " features=%d, noise=%s, labelNoise=%s, seed=%d): Gaussian classes around random prototypes;"
                    + " %d of the %d training labels (%.0f%%) were flipped to another class, so a model that fits"
                    + " the training set exactly has memorized noise. The test set keeps the true labels.%n",
                    data.classes(), data.trainPerClass(), data.testPerClass(), FEATURES, data.noise(),
                    data.labelNoise(), data.seed(), split.flippedLabels(), split.trainSize(),
                    100.0 * split.flippedLabels() / split.trainSize());
            if (note != null) {
                out.println(note);
            }
            experiment(out, split, config, progress, plot, "Discussion 04, section 5: L2 regularization");
        }
    }

    /**
     * Trains at each lambda of {@code config} on {@code data}, then prints the
     * settings, the table and the verdicts, and writes the curves to {@code plot}.
     */
    static void experiment(PrintStream out, Datasets.Split data, Experiment.Config config, Progress progress,
            Path plot, String title) throws IOException {
        long parameters;
        try (Sequential model = Models.discussion04(true, config.modelSeed(), data.features(), data.classes())) {
            parameters = model.parameterCount();
        }
        out.printf(Locale.ROOT, "Model: Models.discussion04(fused=true, seed=%d) with %d inputs and %d classes,"
                + " %,d parameters.%n", config.modelSeed(), data.features(), data.classes(), parameters);
        out.printf(Locale.ROOT, "Training: SGD(lr=%s cosine-annealed to 0, momentum=%s), batches of %d, %d epochs"
                + " per lambda, each run from the same initial weights through the same batches; the penalty"
                + " lambda ||theta||^2 covers every parameter and is added to the loss explicitly (L2Penalty; the"
                + " same updates as weight_decay = 2 lambda). lambda = 0 trains without it: that run is theta*.%n",
                config.lr(),
                config.momentum(), config.batchSize(), config.epochs());
        long start = System.nanoTime();
        List<Experiment.Run> runs = Experiment.run(data, config, progress);
        double seconds = (System.nanoTime() - start) / 1e9;
        out.printf(Locale.ROOT, "%d runs on %d training and %d test samples in %.1f s:%n", runs.size(),
                data.trainSize(), data.testSize(), seconds);
        Report.table(out, runs);
        Report.verdicts(out, runs, data.classes(), data.testSize());
        Plot.write(plot, title, runs);
        out.println("Training curves (accuracy, loss) per lambda: " + plot.toAbsolutePath().normalize());
        out.println();
    }
}
