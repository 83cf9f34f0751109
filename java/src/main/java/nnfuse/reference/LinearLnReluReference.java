package nnfuse.reference;

/**
 * Linear, then LayerNorm over the output features, then optionally ReLU, and the backward pass of the three,
 * composed from {@link LinearReference}, {@link LayerNormReference} and {@link ReluReference} in double
 * throughout (no rounding to float between the steps). The oracle of the fused native op. Stateless and
 * thread-safe.
 */
public final class LinearLnReluReference {
    private LinearLnReluReference() {}

    /**
     * Output and what the backward pass keeps, all in double.
     *
     * @param y    {@code relu(layerNorm(h))}, {@code [rows, out]}
     * @param h    {@code x W^T + b}, {@code [rows, out]}
     * @param mean per-row mean of {@code h}, {@code [rows]}
     * @param rstd per-row {@code 1 / sqrt(var + eps)} of {@code h}, {@code [rows]}
     */
    public record Forward(double[] y, double[] h, double[] mean, double[] rstd) {}

    /**
     * Gradients of a loss with respect to the block's input and parameters, all in double.
     *
     * @param dx     {@code [rows, in]}
     * @param dw     {@code [out, in]}
     * @param db     {@code [out]}
     * @param dgamma {@code [out]}
     * @param dbeta  {@code [out]}
     */
    public record Gradients(double[] dx, double[] dw, double[] db, double[] dgamma, double[] dbeta) {}

    /**
     * {@code relu(layerNorm(x w^T + b))} for {@code x[rows, in]} and {@code w[out, in]}.
     *
     * @param b     bias {@code [out]}, or null for none
     * @param gamma LayerNorm scale {@code [out]}, or null for none
     * @param beta  LayerNorm shift {@code [out]}, or null for none
     * @param relu  whether to apply the ReLU
     */
    public static Forward forward(float[] x, float[] w, float[] b, float[] gamma, float[] beta, int rows, int in,
            int out, double eps, boolean relu) {
        ReferenceChecks.requireLength("x", x, (long) rows * in);
        ReferenceChecks.requireLength("w", w, (long) out * in);
        return forward(ReferenceChecks.widen(x), ReferenceChecks.widen(w), ReferenceChecks.widenOrNull(b),
                ReferenceChecks.widenOrNull(gamma), ReferenceChecks.widenOrNull(beta), rows, in, out, eps, relu);
    }

    /** The same on double inputs, for finite differences. */
    public static Forward forward(double[] x, double[] w, double[] b, double[] gamma, double[] beta, int rows,
            int in, int out, double eps, boolean relu) {
        double[] h = LinearReference.forward(x, w, b, rows, in, out);
        LayerNormReference.Forward ln = LayerNormReference.forward(h, gamma, beta, rows, out, eps);
        double[] y = relu ? ReluReference.forward(ln.y()) : ln.y();
        return new Forward(y, h, ln.mean(), ln.rstd());
    }

    /**
     * The gradients of {@link #forward} given {@code dy[rows, out]}, the gradient of a loss with respect to y,
     * from what the forward keeps ({@code h}, {@code mean}, {@code rstd}): the LayerNorm output is recomputed
     * from them for the ReLU's mask, then the backward passes of ReLU, LayerNorm and Linear follow in turn.
     * Float data widens to double exactly.
     *
     * @param gamma the forward's LayerNorm scale {@code [out]}, or null for none
     * @param beta  the forward's LayerNorm shift {@code [out]}, or null for none
     * @param relu  whether the forward applied the ReLU
     */
    public static Gradients backward(double[] dy, double[] x, double[] w, double[] h, double[] mean, double[] rstd,
            double[] gamma, double[] beta, int rows, int in, int out, boolean relu) {
        ReferenceChecks.requireLength("h", h, (long) rows * out);
        ReferenceChecks.requireLength("mean", mean, rows);
        ReferenceChecks.requireLength("rstd", rstd, rows);
        double[] dyNorm = dy;
        if (relu) {
            double[] normalized = new double[rows * out];
            for (int i = 0; i < normalized.length; i++) {
                normalized[i] = LayerNormReference.affine(h, mean, rstd, gamma, beta, i, out);
            }
            dyNorm = ReluReference.backward(dy, normalized);
        }
        LayerNormReference.Gradients ln = LayerNormReference.backward(dyNorm, h, mean, rstd, gamma, rows, out);
        LinearReference.Gradients linear = LinearReference.backward(ln.dx(), x, w, rows, in, out);
        return new Gradients(linear.dx(), linear.dw(), linear.db(), ln.dgamma(), ln.dbeta());
    }
}
