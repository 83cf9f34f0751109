package nnfuse.demo;

import static nnfuse.demo.Matrices.indent;
import static nnfuse.demo.Matrices.vector;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import nnfuse.ArgmaxOps;
import nnfuse.BatchNormOps;
import nnfuse.DropoutOps;
import nnfuse.LayerNormOps;
import nnfuse.LinearOps;
import nnfuse.SoftmaxOps;
import nnfuse.Tensor;
import nnfuse.nn.Linear;
import nnfuse.nn.Models;
import nnfuse.nn.Module;
import nnfuse.nn.Sequential;
import nnfuse.nn.Summary;

/** {@code ./nnfuse demo}: Discussion 04 worked through by the library, section by section. */
final class Discussion04 {
    /**
     * The Philox seed whose first eight draws, at p = 0.75, drop exactly the
     * worksheet's first six units (found by search; DropoutTest checks it).
     */
    static final long WORKSHEET_MASK_SEED = 8;

    /** The worksheet's gamma and beta, shared by sections 2 and 3. */
    private static final float[] GAMMA = {1, 2, 3, 4};
    private static final float[] BETA = {0, -1, 1, 0};

    /** The first row of section 3's X, as a batch of one (sections 2(b) and 3(b)). */
    private static final float[] SINGLE_ROW = {2, 2, 1, 1};

    private Discussion04() {}

    static void run(PrintStream out) {
        out.println("nnfuse demo: Discussion 04 (normalization and regularization)");
        out.println();
        modelSize(out);
        layerNorm(out);
        batchNorm(out);
        dropout(out);
    }

    /** Section 1: the model's dimensions, activation shapes, parameter and activation counts. */
    static void modelSize(PrintStream out) {
        out.println("== 1. Model Size ==");
        int batch = 4;
        try (Sequential model = Models.discussion04(false, 2026);
                Sequential fused = Models.discussion04(true, 2026)) {
            out.println("(a) The worksheet's model as nnfuse builds it (Models.discussion04), with the missing"
                    + " dimensions filled in:");
            int linear = 0;
            for (Module m : model.modules()) {
                if (m instanceof Linear l) {
                    long[] weight = l.weight().shape();
                    out.printf("    Linear%d(in_feats=%d, out_feats=%d)%n", ++linear, weight[1], weight[0]);
                }
            }
            out.printf("    Activation shapes, from running a batch of %d through it:%n", batch);
            activationShapes(out, model, batch);

            Summary summary = fused.summary(batch);
            long perExample = fused.summary(1).activationElements();
            long parameters = summary.parameters();
            out.println("(c), (d) Per layer of the fused model (one native call per Linear + LayerNorm + ReLU"
                    + " block), at batch " + batch + ":");
            out.print(indent(summary.toString()));
            out.printf(Locale.ROOT, "    Z = %,d activation elements at n = %d (K = %,d per example, Z = n * K)%n",
                    summary.activationElements(), batch, perExample);
            out.printf(Locale.ROOT, "    C = %,d parameters%n", parameters);
            long n = parameters / perExample + 1;
            out.printf(Locale.ROOT, "(e) Activations outweigh parameters from batch size n = %d:"
                    + " %d * %,d = %,d <= C = %,d < %d * %,d = %,d%n", n, n - 1, perExample, (n - 1) * perExample,
                    parameters, n, perExample, n * perExample);
            out.printf(Locale.ROOT, "    Kept bytes: what each layer holds for its backward pass. A fused block keeps"
                    + " its input, the product before normalization and two floats per row, and recomputes the"
                    + " rest: %,d bytes at n = %d instead of %,d for the separate layers.%n",
                    summary.savedBytes(), batch, summary.unfusedSavedBytes());
        }
        out.println();
    }

    /** Runs one batch through the unfused model layer by layer and names each output z1, z2, ... as the worksheet does. */
    private static void activationShapes(PrintStream out, Sequential model, int batch) {
        float[] data = new float[batch * 52];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) Math.sin(i);
        }
        Tensor current = Tensor.of(data, batch, 52);
        try {
            int z = 0;
            for (Module m : model.modules()) {
                Tensor next = m.forward(current);
                current.close();
                current = next;
                out.println(String.format("      z%-3d %-10s %-10s %s", ++z, m.getClass().getSimpleName(),
                        Arrays.toString(current.shape()), z == 10 ? "<- the logits, (b)" : "").stripTrailing());
            }
            try (Tensor probabilities = SoftmaxOps.softmax(current); Tensor predicted = ArgmaxOps.forward(current)) {
                out.printf("      z%-3d %-10s %-10s <- the predicted class of each example%n", ++z, "argmax",
                        Arrays.toString(predicted.shape()));
                float[] p = probabilities.toFloatArray();
                double[] rowSums = new double[batch];
                for (int i = 0; i < p.length; i++) {
                    rowSums[i / 1000] += p[i];
                }
                out.printf(Locale.ROOT, "(b) z10 holds the logits; softmax turns each row into class probabilities"
                        + " (row sums %s).%n", Arrays.toString(Arrays.stream(rowSums)
                        .mapToObj(v -> String.format(Locale.ROOT, "%.6f", v)).toArray()));
            }
        } finally {
            current.close();
        }
    }

    /** Section 2(a): LayerNorm of a 3x4 matrix with eps = 0. */
    static void layerNorm(PrintStream out) {
        out.println("== 2. Layer Normalization ==");
        try (Tensor x = Tensor.of(new float[] {4, 4, 8, 8, 0, 2, 2, 8, 1, 1, 1, 5}, 3, 4);
                Tensor gamma = Tensor.of(GAMMA, 4);
                Tensor beta = Tensor.of(BETA, 4);
                Tensor mean = Tensor.zeros(3);
                Tensor rstd = Tensor.zeros(3);
                Tensor y = Tensor.zeros(3, 4)) {
            LayerNormOps.forward(y, mean, rstd, x, gamma, beta, 0f);
            printWorkedExample(out, "LayerNorm", "row", x, mean, rstd, y, new float[][] {
                {-1, -3, 4, 4}, {-1, -1.66f, 0.01f, 6.68f}, {-0.58f, -2.16f, -0.74f, 6.92f}});
        }
        try (Tensor one = Tensor.of(SINGLE_ROW, 1, 4); Tensor normalized = LayerNormOps.forward(one, null, null, 0f)) {
            out.println("(b) Batch size 1 works: LayerNorm normalizes across the features of each row, e.g. "
                    + vector(one, 0) + " -> " + vector(normalized, 2));
        }
        out.println();
    }

    /** Section 3: BatchNorm of a 3x4 matrix with eps = 0 (training mode: batch statistics), and batch size 1. */
    static void batchNorm(PrintStream out) {
        out.println("== 3. Batch Normalization ==");
        try (Tensor x = Tensor.of(new float[] {2, 2, 1, 1, 2, 5, 4, 1, 5, 5, 10, 10}, 3, 4);
                Tensor gamma = Tensor.of(GAMMA, 4);
                Tensor beta = Tensor.of(BETA, 4);
                Tensor mean = Tensor.zeros(4);
                Tensor rstd = Tensor.zeros(4);
                Tensor runningMean = Tensor.zeros(4);
                Tensor runningVar = Tensor.zeros(4).fill(1f);
                Tensor y = Tensor.zeros(3, 4)) {
            BatchNormOps.forwardTraining(y, mean, rstd, runningMean, runningVar, x, gamma, beta, 0f,
                    BatchNormOps.DEFAULT_MOMENTUM);
            printWorkedExample(out, "BatchNorm", "column", x, mean, rstd, y, new float[][] {
                {-0.71f, -3.82f, -2.21f, -2.84f}, {-0.71f, 0.42f, 0.19f, -2.84f}, {1.41f, 0.42f, 5.02f, 5.64f}});
            out.printf("Training also updated the running statistics (momentum 0.1, variance unbiased by N/(N-1)):"
                    + " running_mean = %s, running_var = %s%n", vector(runningMean, 3), vector(runningVar, 3));
        }
        out.print("(b) Batch size 1 fails, as in PyTorch: there is no spread to estimate across one example. ");
        try (Tensor one = Tensor.of(SINGLE_ROW, 1, 4)) {
            BatchNormOps.forwardTraining(one, null, null, null, null, 0f, BatchNormOps.DEFAULT_MOMENTUM).close();
            out.println("(no error: unexpected)");
        } catch (IllegalArgumentException e) {
            out.println("The library says:");
            out.println("    " + e.getMessage());
        }
        out.println();
    }

    /**
     * Prints a worked normalization the worksheet's way: the input, the
     * statistics per {@code unit} (row or column, recovered from the saved
     * mean and rstd with eps = 0), the result, and where the worksheet's
     * rounded hand calculation differs from it.
     */
    private static void printWorkedExample(PrintStream out, String name, String unit, Tensor x, Tensor mean,
            Tensor rstd, Tensor y, float[][] worksheet) {
        out.println("X =");
        out.print(Matrices.format(x, 0));
        out.println("gamma = [1, 2, 3, 4], beta = [0, -1, 1, 0], eps = 0");
        for (int i = 0; i < mean.numel(); i++) {
            double sd = 1.0 / rstd.get(i);
            out.printf("%s %d: mean = %s, variance = %s%n", unit, i + 1, fmt(mean.get(i)), fmt(sd * sd));
        }
        out.println(name + "(X) =");
        out.print(Matrices.format(y, 2));
        Matrices.roundingNotes(out, y, worksheet, "x-hat");
    }

    /** Whole numbers as integers (the worksheet's 6, 4, 3), anything else to four decimals. */
    private static String fmt(double v) {
        return Math.abs(v - Math.rint(v)) < 1e-5 ? Long.toString(Math.round(v))
                : String.format(Locale.ROOT, "%.4f", v);
    }

    /**
     * Section 4: dropout on x = [2, 6, 4, 4, 5, 3, 4, 4] with p = 0.75, plain and
     * corrected, then (e) Dropout and BatchNorm in training and evaluation mode.
     */
    static void dropout(PrintStream out) {
        out.println("== 4. Dropout ==");
        float p = 0.75f;
        float[] x = {2, 6, 4, 4, 5, 3, 4, 4};
        try (Tensor xt = Tensor.of(x, 1, 8);
                Tensor w = Tensor.of(new float[] {1, 1, 1, 1, 1, 1, 1, 1}, 1, 8);
                Tensor dropped = Tensor.zeros(1, 8);
                Tensor y = Tensor.zeros(1, 1)) {
            out.println("x = [2, 6, 4, 4, 5, 3, 4, 4], w = [1, 1, 1, 1, 1, 1, 1, 1], p = 0.75, y = w . x");
            try (Tensor mask = DropoutOps.mask(new long[] {8}, p, WORKSHEET_MASK_SEED, 0)) {
                out.printf("The worksheet drops the first six units. nnfuse's Philox stream for seed %d, offset 0,"
                        + " draws exactly that mask: %s%n", WORKSHEET_MASK_SEED, vector(mask, 0));
            }
            DropoutOps.forward(dropped, xt, p, false, WORKSHEET_MASK_SEED, 0);
            out.printf("(a) x_drop = %s, y_drop = %s%n", vector(dropped, 0), scalar(dot(y, dropped, w)));
            DropoutOps.forward(dropped, xt, p, true, WORKSHEET_MASK_SEED, 0);
            out.printf("(b) x_corr = %s (kept units times 1/(1-p) = 4), y_corr = %s%n", vector(dropped, 0),
                    scalar(dot(y, dropped, w)));
            out.printf("(c) y_orig = %s%n", scalar(dot(y, xt, w)));

            int seeds = 20_000;
            Mean plain = new Mean();
            Mean corrected = new Mean();
            for (long seed = 0; seed < seeds; seed++) {
                DropoutOps.forward(dropped, xt, p, false, seed, 0);
                plain.add(dot(y, dropped, w));
                DropoutOps.forward(dropped, xt, p, true, seed, 0);
                corrected.add(dot(y, dropped, w));
            }
            out.printf(Locale.ROOT, "(d) Over %,d Philox masks (seeds 0..%d): mean y_drop = %s, near (1-p) * y_orig"
                    + " = 8; mean y_corr = %s, near y_orig = 32.%n", seeds, seeds - 1, plain, corrected);
            out.println("    The correction keeps the expected output equal to the eval-time output (no dropout);"
                    + " without it training sees outputs a quarter as large.");
        }
        TrainEvalModes.print(out);
    }

    /** A running mean with its standard error, printed as {@code mean ± se}. */
    private static final class Mean {
        private long n;
        private double sum;
        private double sumSquares;

        void add(double v) {
            n++;
            sum += v;
            sumSquares += v * v;
        }

        @Override
        public String toString() {
            double mean = sum / n;
            double variance = (sumSquares - n * mean * mean) / (n - 1);
            return String.format(Locale.ROOT, "%.2f ± %.2f (standard error)", mean, Math.sqrt(variance / n));
        }
    }

    /** y = w . x through the library's Linear (w as a [1, 8] weight), returned as a Java float. */
    private static float dot(Tensor y, Tensor x, Tensor w) {
        LinearOps.forward(y, x, w, null);
        return y.get(0, 0);
    }

    private static String scalar(float v) {
        return fmt(v);
    }
}
