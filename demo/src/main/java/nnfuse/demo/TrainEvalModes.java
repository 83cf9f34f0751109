package nnfuse.demo;

import static nnfuse.demo.Matrices.indent;
import static nnfuse.demo.Matrices.vector;

import java.io.PrintStream;
import java.util.Locale;
import nnfuse.Tensor;
import nnfuse.nn.BatchNorm1d;
import nnfuse.nn.Datasets;
import nnfuse.nn.Dropout;

/**
 * Section 4(e): the layers that behave differently in training and in
 * evaluation, each run on one batch in both modes with the library's modules:
 * {@link Dropout} (random masks and the 1/(1-p) scale, then the identity) and
 * {@link BatchNorm1d} (the batch's statistics, then the running statistics
 * gathered during training).
 */
final class TrainEvalModes {
    static final float DROPOUT_P = 0.5f;
    static final long DROPOUT_SEED = 4;
    static final int DROPOUT_CALLS = 1000;
    /** The data the batch-norm layer sees while training: 4 features, 50 batches of 32. */
    static final int BN_FEATURES = 4;
    static final int BN_BATCH = 32;
    static final int BN_TRAINING_BATCHES = 50;
    /** The rows of the batch shown in both modes. */
    static final int BN_SHOWN = 6;
    static final long BN_DATA_SEED = 7;

    private TrainEvalModes() {}

    static void print(PrintStream out) {
        out.println("(e) Both layers, run by nnfuse.nn on the same batch in training mode and in evaluation mode:");
        dropout(out);
        batchNorm(out);
    }

    private static void dropout(PrintStream out) {
        float[] x = {2, 6, 4, 4, 5, 3, 4, 4};
        float[] rows = new float[4 * x.length];
        for (int r = 0; r < 4; r++) {
            System.arraycopy(x, 0, rows, r * x.length, x.length);
        }
        try (Dropout dropout = new Dropout(DROPOUT_P, true, DROPOUT_SEED); Tensor batch = Tensor.of(rows, 4, 8)) {
            out.printf(Locale.ROOT, "    Dropout(p=%.1f) on a batch of four copies of x (mean %s):%n", DROPOUT_P,
                    mean(batch));
            try (Tensor train = dropout.train().forward(batch)) {
                out.printf("    training mode (each row its own mask, kept units times 1/(1-p) = 2), mean %s:%n",
                        mean(train));
                out.print(indent(Matrices.format(train, 0)));
            }
            try (Tensor eval = dropout.eval().forward(batch)) {
                out.printf("    evaluation mode (the identity), mean %s:%n", mean(eval));
                out.print(indent(Matrices.format(eval, 0)));
            }
            dropout.train();
            double sum = 0;
            for (int call = 0; call < DROPOUT_CALLS; call++) {
                try (Tensor y = dropout.forward(batch)) {
                    sum += meanOf(y);
                }
            }
            out.printf(Locale.ROOT, "    Over %,d more training calls (fresh masks each) the mean is %.3f: the"
                    + " training output matches the evaluation output in expectation.%n", DROPOUT_CALLS,
                    sum / DROPOUT_CALLS);
        }
    }

    private static void batchNorm(PrintStream out) {
        int n = BN_BATCH * BN_TRAINING_BATCHES;
        try (Datasets.Split data = Datasets.synthetic(4, n / 4, 1, BN_FEATURES, 1f, 0f, BN_DATA_SEED);
                BatchNorm1d bn = new BatchNorm1d(BN_FEATURES);
                Tensor shown = rows(data.trainFeatures(), 0, BN_SHOWN)) {
            for (int b = 0; b < BN_TRAINING_BATCHES; b++) {
                try (Tensor batch = rows(data.trainFeatures(), b * BN_BATCH, BN_BATCH)) {
                    bn.forward(batch).close();
                }
            }
            out.printf(Locale.ROOT, "    BatchNorm1d(%d) after %d training batches of %d rows (synthetic data):"
                    + " running_mean = %s, running_var = %s%n", BN_FEATURES, bn.numBatchesTracked(), BN_BATCH,
                    vector(bn.runningMean(), 2), vector(bn.runningVar(), 2));
            out.println("    The batch shown, " + BN_SHOWN + " rows:");
            out.print(indent(Matrices.format(shown, 2)));
            try (Tensor eval = bn.eval().forward(shown)) {
                out.println("    evaluation mode: (x - running_mean) / sqrt(running_var + eps); its columns keep"
                        + " the batch's offsets:");
                out.print(indent(Matrices.format(eval, 2)));
                out.println("      " + columnStatistics(eval));
            }
            try (Tensor train = bn.train().forward(shown)) {
                out.println("    training mode: the batch's own mean and variance; every column has mean 0 and"
                        + " variance 1 (and the running statistics move once more):");
                out.print(indent(Matrices.format(train, 2)));
                out.println("      " + columnStatistics(train));
            }
        }
        out.println();
    }

    /** Rows {@code [from, from + count)} of a 2-D tensor, copied. */
    private static Tensor rows(Tensor t, int from, int count) {
        int width = (int) t.size(1);
        float[] all = t.toFloatArray();
        float[] part = new float[count * width];
        System.arraycopy(all, from * width, part, 0, part.length);
        return Tensor.of(part, count, width);
    }

    private static double meanOf(Tensor t) {
        double sum = 0;
        for (float v : t.toFloatArray()) {
            sum += v;
        }
        return sum / t.numel();
    }

    private static String mean(Tensor t) {
        return String.format(Locale.ROOT, "%.3f", meanOf(t));
    }

    /** Each column's mean and biased variance (the statistics training-mode batch norm uses). */
    private static String columnStatistics(Tensor t) {
        int width = (int) t.size(1);
        long rows = t.size(0);
        float[] v = t.toFloatArray();
        double[] means = new double[width];
        double[] variances = new double[width];
        for (int i = 0; i < v.length; i++) {
            means[i % width] += v[i] / (double) rows;
        }
        for (int i = 0; i < v.length; i++) {
            double d = v[i] - means[i % width];
            variances[i % width] += d * d / rows;
        }
        return "column means " + list(means) + ", variances " + list(variances);
    }

    private static String list(double[] values) {
        StringBuilder b = new StringBuilder("[");
        for (int j = 0; j < values.length; j++) {
            double m = Math.abs(values[j]) < 5e-3 ? 0 : values[j];
            b.append(j == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", m));
        }
        return b.append(']').toString();
    }

}
