package nnfuse.testing;

import java.util.function.IntToDoubleFunction;
import java.util.function.ToDoubleFunction;

/**
 * Central finite differences in double: the independent check of every
 * reference backward. {@code (f(x + h e_i) - f(x - h e_i)) / 2h} has a
 * truncation error of {@code h^2 |f'''| / 6} and a rounding error of about
 * {@code 2^-53 |f| / h}; {@link #STEP} balances them for objectives and
 * derivatives of order 1 to 100, leaving errors near 1e-9, far below the
 * tolerances the tests use for the comparison (about 1e-6).
 *
 * <p>{@link #gradientScaled} scales the step to each element instead,
 * {@code h = RELATIVE_STEP * max(1, |x_i|)}, for objectives whose third
 * derivatives can be large (LayerNorm's grow with the cube of rstd): with
 * {@code h} near 1e-6 the truncation error stays near {@code 2e-13 |f'''|}
 * and the rounding error near {@code 1e-10 |f|}, so {@link #SCALED_TOLERANCE}
 * (atol 1e-6 + rtol 1e-6) leaves a margin of 10^3 or more for the O(1) data
 * of the tests, while any error in a formula, O(1), still fails.
 */
public final class FiniteDifferences {
    /** The default step h. */
    public static final double STEP = 1e-4;

    /** The step of {@link #gradientScaled} relative to {@code max(1, |x_i|)}. */
    public static final double RELATIVE_STEP = 1e-6;

    /** For comparing a reference gradient with {@link #gradientScaled}. */
    public static final Tolerance SCALED_TOLERANCE = Tolerance.of(1e-6, 1e-6);

    private FiniteDifferences() {}

    /** The gradient of {@code f} at {@code x}, one central difference per element; {@code x} is left unchanged. */
    public static double[] gradient(ToDoubleFunction<double[]> f, double[] x) {
        return central(f, x, i -> STEP);
    }

    /** {@link #gradient} with the step {@code RELATIVE_STEP * max(1, |x_i|)} for element i. */
    public static double[] gradientScaled(ToDoubleFunction<double[]> f, double[] x) {
        return central(f, x, i -> RELATIVE_STEP * Math.max(1, Math.abs(x[i])));
    }

    /** {@code sum_i a[i] * b[i]} in double: the objective {@code L = sum(dy * y)}, whose gradient in y is dy. */
    public static double dot(float[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }

    private static double[] central(ToDoubleFunction<double[]> f, double[] x, IntToDoubleFunction step) {
        double[] point = x.clone();
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double h = step.applyAsDouble(i);
            point[i] = x[i] + h;
            double up = f.applyAsDouble(point);
            point[i] = x[i] - h;
            double down = f.applyAsDouble(point);
            point[i] = x[i];
            grad[i] = (up - down) / (2 * h);
        }
        return grad;
    }
}
