package nnfuse.reference;

/**
 * The fully connected layer {@code y = x W^T + b} and its backward pass in plain Java, accumulating in double:
 * the oracle the native kernels are tested against. Written for clarity, not speed. Stateless and thread-safe.
 */
public final class LinearReference {
    private LinearReference() {}

    /**
     * Gradients of a loss with respect to the layer's input and parameters, all in double.
     *
     * @param dx {@code [rows, in]}
     * @param dw {@code [out, in]}
     * @param db {@code [out]}
     */
    public record Gradients(double[] dx, double[] dw, double[] db) {}

    /**
     * {@code y[r, j] = sum_k x[r, k] * w[j, k] + b[j]} for {@code x[rows, in]} and {@code w[out, in]} (PyTorch's
     * layout), each product exact in double and the sums rounded to double.
     *
     * @param b bias {@code [out]}, or null for none
     * @return {@code y[rows, out]}
     */
    public static double[] forward(float[] x, float[] w, float[] b, int rows, int in, int out) {
        ReferenceChecks.requireLength("x", x, (long) rows * in);
        ReferenceChecks.requireLength("w", w, (long) out * in);
        return forward(ReferenceChecks.widen(x), ReferenceChecks.widen(w), ReferenceChecks.widenOrNull(b), rows, in,
                out);
    }

    /** The same on double inputs, for finite differences and for composing with other references. */
    public static double[] forward(double[] x, double[] w, double[] b, int rows, int in, int out) {
        ReferenceChecks.requireLength("x", x, (long) rows * in);
        ReferenceChecks.requireLength("w", w, (long) out * in);
        if (b != null) {
            ReferenceChecks.requireLength("b", b, out);
        }
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < out; j++) {
                double sum = b == null ? 0 : b[j];
                for (int k = 0; k < in; k++) {
                    sum += x[r * in + k] * w[j * in + k];
                }
                y[r * out + j] = sum;
            }
        }
        return y;
    }

    /**
     * The gradients of {@link #forward} given {@code dy[rows, out]}, the gradient of a loss with respect to y:
     * {@code dx = dy w}, {@code dw = dy^T x} and {@code db[j] = sum_r dy[r, j]} (the bias gradient does not
     * depend on whether the forward had a bias). Float data widens to double exactly.
     */
    public static Gradients backward(double[] dy, double[] x, double[] w, int rows, int in, int out) {
        ReferenceChecks.requireLength("dy", dy, (long) rows * out);
        ReferenceChecks.requireLength("x", x, (long) rows * in);
        ReferenceChecks.requireLength("w", w, (long) out * in);
        double[] dx = new double[rows * in];
        double[] dw = new double[out * in];
        double[] db = new double[out];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < out; j++) {
                double g = dy[r * out + j];
                db[j] += g;
                for (int k = 0; k < in; k++) {
                    dx[r * in + k] += g * w[j * in + k];
                    dw[j * in + k] += g * x[r * in + k];
                }
            }
        }
        return new Gradients(dx, dw, db);
    }
}
