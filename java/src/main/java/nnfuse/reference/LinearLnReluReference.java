package nnfuse.reference;

/**
 * Linear, then LayerNorm over the output features, then optionally ReLU, composed from
 * {@link LinearReference}, {@link LayerNormReference} and {@link ReluReference} in double throughout (no
 * rounding to float between the steps). The oracle of the fused native op. Stateless and thread-safe.
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
     * {@code relu(layerNorm(x w^T + b))} for {@code x[rows, in]} and {@code w[out, in]}.
     *
     * @param b     bias {@code [out]}, or null for none
     * @param gamma LayerNorm scale {@code [out]}, or null for none
     * @param beta  LayerNorm shift {@code [out]}, or null for none
     * @param relu  whether to apply the ReLU
     */
    public static Forward forward(float[] x, float[] w, float[] b, float[] gamma, float[] beta, int rows, int in,
            int out, double eps, boolean relu) {
        double[] h = LinearReference.forward(x, w, b, rows, in, out);
        LayerNormReference.Forward ln = LayerNormReference.forward(h, gamma, beta, rows, out, eps);
        double[] y = relu ? ReluReference.forward(ln.y()) : ln.y();
        return new Forward(y, h, ln.mean(), ln.rstd());
    }
}
