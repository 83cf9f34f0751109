package nnfuse.reference;

/**
 * The fully connected layer {@code y = x W^T + b} in plain Java, accumulating in double: the oracle the
 * native kernels are tested against. Written for clarity, not speed. Stateless and thread-safe.
 */
public final class LinearReference {
    private LinearReference() {}

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
        if (b != null) {
            ReferenceChecks.requireLength("b", b, out);
        }
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < out; j++) {
                double sum = b == null ? 0 : b[j];
                for (int k = 0; k < in; k++) {
                    sum += (double) x[r * in + k] * w[j * in + k];
                }
                y[r * out + j] = sum;
            }
        }
        return y;
    }
}
