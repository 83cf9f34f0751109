package nnfuse.reference;

/**
 * torch.argmax over the rows of {@code x[rows, cols]} in plain Java: the oracle
 * the native kernel is tested against. Written for clarity, not speed.
 * Stateless and thread-safe.
 */
public final class ArgmaxReference {
    private ArgmaxReference() {}

    /** Per row: the first NaN if there is one, else the first index holding the row's maximum. */
    public static long[] argmax(float[] x, int rows, int cols) {
        ReferenceChecks.requireLength("x", x, (long) rows * cols);
        long[] index = new long[rows];
        for (int r = 0; r < rows; r++) {
            index[r] = rowArgmax(x, r * cols, cols);
        }
        return index;
    }

    private static int rowArgmax(float[] x, int base, int cols) {
        for (int j = 0; j < cols; j++) {
            if (Float.isNaN(x[base + j])) {
                return j;
            }
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < cols; j++) {
            max = Math.max(max, x[base + j]);
        }
        int j = 0;
        while (x[base + j] != max) {
            j++;
        }
        return j;
    }
}
