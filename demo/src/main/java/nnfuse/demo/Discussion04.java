package nnfuse.demo;

import java.io.PrintStream;
import nnfuse.LayerNormOps;
import nnfuse.Tensor;

/** {@code ./nnfuse demo}: Discussion 04 worked through by the library, section by section. */
final class Discussion04 {
    private Discussion04() {}

    static void run(PrintStream out) {
        out.println("nnfuse demo: Discussion 04 (normalization and regularization)");
        out.println();
        layerNorm(out);
    }

    /** Section 2(a): LayerNorm of a 3x4 matrix with eps = 0. */
    static void layerNorm(PrintStream out) {
        out.println("== 2. Layer Normalization ==");
        float[] x = {4, 4, 8, 8, 0, 2, 2, 8, 1, 1, 1, 5};
        try (Tensor xt = Tensor.of(x, 3, 4);
                Tensor gamma = Tensor.of(new float[] {1, 2, 3, 4}, 4);
                Tensor beta = Tensor.of(new float[] {0, -1, 1, 0}, 4);
                Tensor mean = Tensor.zeros(3);
                Tensor rstd = Tensor.zeros(3);
                Tensor y = Tensor.zeros(3, 4)) {
            LayerNormOps.forward(y, mean, rstd, xt, gamma, beta, 0f);
            out.println("X =");
            out.print(Matrices.format(xt, 0));
            out.println("gamma = [1, 2, 3, 4], beta = [0, -1, 1, 0], eps = 0");
            for (int r = 0; r < 3; r++) {
                double sd = 1.0 / rstd.get(r);
                out.printf("row %d: mean = %s, variance = %s%n", r + 1, fmt(mean.get(r)), fmt(sd * sd));
            }
            out.println("LayerNorm(X) =");
            out.print(Matrices.format(y, 2));
            out.println();
        }
    }

    /** Whole numbers as integers (the worksheet's 6, 4, 3), anything else to four decimals. */
    private static String fmt(double v) {
        return Math.abs(v - Math.rint(v)) < 1e-5 ? Long.toString(Math.round(v))
                : String.format(java.util.Locale.ROOT, "%.4f", v);
    }
}
