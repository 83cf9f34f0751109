package nnfuse.demo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import nnfuse.L2Ops;
import nnfuse.Nnfuse;
import nnfuse.nn.CrossEntropyLoss;
import nnfuse.nn.Datasets;
import nnfuse.nn.L2Penalty;
import nnfuse.nn.Models;
import nnfuse.nn.Parameter;
import nnfuse.nn.ParameterFilters;
import nnfuse.nn.SGD;
import nnfuse.nn.Sequential;
import nnfuse.nn.Trainer;

/**
 * The regularization experiment of the worksheet's section 5: the worksheet's
 * architecture ({@link Models#discussion04}, fused) trained on one data split
 * once per strength lambda of the penalty {@code lambda * ||theta||^2} over
 * every parameter (theta, as in the worksheet), added to the cross-entropy as
 * an explicit {@link L2Penalty}: with SGD this is the same update as PyTorch's
 * {@code weight_decay = 2 * lambda}, and the loss reported includes it. Every
 * run starts from the same initial weights and visits the same batches in the
 * same order, so the runs differ only by lambda; lambda = 0 runs without a
 * penalty and its result is theta*, the unregularized solution. The learning
 * rate follows a cosine from its initial value to 0 over the epochs (PyTorch's
 * {@code CosineAnnealingLR(T_max=epochs)}, stepped per epoch), so the last
 * epochs settle into a solution instead of ending at a random point of SGD's
 * noise: with a penalty and LayerNorm the steps stay large otherwise, since
 * the penalty keeps shrinking the weights whose scale LayerNorm ignores.
 */
final class Experiment {
    /** Rows per forward when measuring accuracy (any value gives the same result). */
    private static final int EVAL_BATCH = 1024;
    /** The environment variable by which a user chooses the library's thread count. */
    private static final String THREADS_VARIABLE = "NNFUSE_NUM_THREADS";

    /**
     * How to train.
     *
     * @param epochs      passes over the training set per lambda
     * @param batchSize   rows per SGD step
     * @param lr          the initial learning rate, annealed to 0 by a cosine over the epochs
     * @param momentum    SGD momentum (no dampening, not Nesterov)
     * @param modelSeed   the initial weights ({@link Models#discussion04})
     * @param shuffleSeed epoch {@code e} (from 0) shuffles with stream {@code shuffleSeed + e}
     * @param lambdas     the strengths, each run in this order
     */
    record Config(int epochs, int batchSize, float lr, float momentum, long modelSeed, long shuffleSeed,
            double[] lambdas) {
        Config {
            if (epochs < 1 || batchSize < 1) {
                throw new IllegalArgumentException("epochs and batch size must be >= 1, got " + epochs + " and "
                        + batchSize);
            }
            if (lambdas.length == 0) {
                throw new IllegalArgumentException("need at least one lambda");
            }
            for (double l : lambdas) {
                if (!(l >= 0) || Double.isInfinite(l)) {
                    throw new IllegalArgumentException("lambda must be finite and >= 0, got " + l);
                }
            }
            lambdas = lambdas.clone();
        }

        @Override
        public double[] lambdas() {
            return lambdas.clone();
        }

        Config withEpochs(int newEpochs) {
            return new Config(newEpochs, batchSize, lr, momentum, modelSeed, shuffleSeed, lambdas);
        }

        Config withLambdas(double[] newLambdas) {
            return new Config(epochs, batchSize, lr, momentum, modelSeed, shuffleSeed, newLambdas);
        }
    }

    /**
     * One epoch of one run.
     *
     * @param trainLoss     the mean training objective (cross-entropy plus the penalty) over the epoch
     * @param trainAccuracy the accuracy on the training labels during the epoch (training mode, as the weights move)
     * @param testAccuracy  the test accuracy after the epoch (evaluation mode)
     */
    record Epoch(int epoch, double trainLoss, double trainAccuracy, double testAccuracy) {}

    /**
     * One run's outcome.
     *
     * @param norm          {@code ||theta||_2} over every parameter at the end
     * @param trainAccuracy the final model's accuracy on the training set's labels (evaluation mode)
     * @param testAccuracy  the final model's test accuracy
     * @param finalLoss     the last epoch's mean training objective
     * @param theta         every parameter at the end, flattened in state-dict order
     */
    record Run(double lambda, double norm, double trainAccuracy, double testAccuracy, double finalLoss,
            List<Epoch> curve, float[] theta) {}

    private Experiment() {}

    /**
     * Trains one model per lambda of {@code config} on {@code data}, reporting
     * each epoch to {@code progress}. The kernels run on one thread unless
     * {@code NNFUSE_NUM_THREADS} is set: batches of 32 rows gain nothing from
     * a split, and on a loaded machine a thread waiting at a barrier for a
     * descheduled partner stalls every step (measured on 2 shared cores: 0.1 s
     * per epoch on one thread, 0.1 s to 2.5 s on two). The results are the
     * same on any thread count.
     */
    static List<Run> run(Datasets.Split data, Config config, Progress progress) {
        int previous = Nnfuse.threads();
        if (System.getenv(THREADS_VARIABLE) == null) {
            Nnfuse.setThreads(1);
        }
        try {
            List<Run> runs = new ArrayList<>();
            for (double lambda : config.lambdas()) {
                runs.add(runOne(data, config, lambda, progress));
            }
            return runs;
        } finally {
            Nnfuse.setThreads(previous);
        }
    }

    private static Run runOne(Datasets.Split data, Config config, double lambda, Progress progress) {
        try (Sequential model = Models.discussion04(true, config.modelSeed(), data.features(), data.classes());
                SGD sgd = new SGD(model, config.lr(), config.momentum(), 0f, 0f, false, ParameterFilters.all());
                CrossEntropyLoss loss = new CrossEntropyLoss();
                Progress.Bar bar = progress.start("lambda " + format(lambda), config.epochs())) {
            L2Penalty penalty = lambda == 0 ? null : new L2Penalty(lambda, ParameterFilters.all());
            Trainer trainer = new Trainer(model, sgd, loss, penalty);
            List<Epoch> curve = new ArrayList<>();
            for (int e = 0; e < config.epochs(); e++) {
                sgd.setLr(cosine(config.lr(), e, config.epochs()));
                Trainer.EpochStats stats = trainer.trainEpoch(data.trainFeatures(), data.trainLabels(),
                        config.batchSize(), config.shuffleSeed() + e);
                double test = trainer.accuracy(data.testFeatures(), data.testLabels(), EVAL_BATCH);
                curve.add(new Epoch(stats.epoch(), stats.loss(), stats.accuracy(), test));
                bar.step(String.format(Locale.ROOT, "loss %.4f  train %.1f%%  test %.1f%%", stats.loss(),
                        100 * stats.accuracy(), 100 * test));
            }
            double train = trainer.accuracy(data.trainFeatures(), data.trainLabels(), EVAL_BATCH);
            Epoch last = curve.getLast();
            return new Run(lambda, norm(model), train, last.testAccuracy(), last.trainLoss(), List.copyOf(curve),
                    flatten(model));
        }
    }

    /** The learning rate of epoch {@code e} (from 0): {@code lr (1 + cos(pi e / epochs)) / 2}. */
    static float cosine(float lr, int e, int epochs) {
        return (float) (lr * (1 + Math.cos(Math.PI * e / epochs)) / 2);
    }

    /** {@code ||theta||_2} over every parameter, the squares summed in double. */
    private static double norm(Sequential model) {
        return Math.sqrt(model.parameters().stream().mapToDouble(p -> L2Ops.sumOfSquares(p.data())).sum());
    }

    private static float[] flatten(Sequential model) {
        List<float[]> parts = model.parameters().stream().map(Parameter::data).map(t -> t.toFloatArray()).toList();
        float[] all = new float[parts.stream().mapToInt(a -> a.length).sum()];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    /** {@code ||a - b||_2 / ||b||_2}, in double. */
    static double relativeDistance(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("theta sizes differ: " + a.length + " and " + b.length);
        }
        double diff = 0;
        double base = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            diff += d * d;
            base += (double) b[i] * b[i];
        }
        return Math.sqrt(diff / base);
    }

    /** A lambda as the table shows it: 0, 1e-07, 0.03, 1. */
    static String format(double lambda) {
        if (lambda == 0) {
            return "0";
        }
        return lambda < 1e-3 ? String.format(Locale.ROOT, "%.0e", lambda) : Double.toString(lambda)
                .replaceAll("\\.0$", "");
    }

    /** The lambdas of a {@code --lambda a,b,c} argument. */
    static double[] parseLambdas(String list) {
        try {
            return Arrays.stream(list.split(",")).map(String::strip).mapToDouble(Double::parseDouble).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--lambda takes comma-separated numbers, got '" + list + "'", e);
        }
    }
}
