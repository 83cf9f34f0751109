package nnfuse.testing;

import java.util.function.ToDoubleFunction;

/**
 * Central finite differences in double: the independent check of every
 * reference backward. {@code (f(x + h e_i) - f(x - h e_i)) / 2h} has a
 * truncation error of {@code h^2 |f'''| / 6} and a rounding error of about
 * {@code 2^-53 |f| / h}; {@link #STEP} balances them for objectives and
 * derivatives of order 1 to 100, leaving errors near 1e-9, far below the
 * tolerances the tests use for the comparison (about 1e-6).
 */
public final class FiniteDifferences {
    /** The default step h. */
    public static final double STEP = 1e-4;

    private FiniteDifferences() {}

    /** The gradient of {@code f} at {@code x}, one central difference per element; {@code x} is left unchanged. */
    public static double[] gradient(ToDoubleFunction<double[]> f, double[] x) {
        double[] point = x.clone();
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            point[i] = x[i] + STEP;
            double up = f.applyAsDouble(point);
            point[i] = x[i] - STEP;
            double down = f.applyAsDouble(point);
            point[i] = x[i];
            grad[i] = (up - down) / (2 * STEP);
        }
        return grad;
    }

    /** {@code sum_i a[i] * b[i]} in double: the objective {@code L = sum(dy * y)}, whose gradient in y is dy. */
    public static double dot(float[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }
}
