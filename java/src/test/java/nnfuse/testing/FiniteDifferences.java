package nnfuse.testing;

import java.util.function.DoubleSupplier;

/**
 * Central finite differences in double: the independent check of the reference backward passes. For a scalar
 * loss {@code L(theta)}, {@code dL/dtheta_i ~ (L(theta + h e_i) - L(theta - h e_i)) / (2h)} with
 * {@code h = STEP * max(1, |theta_i|)}. The tests take {@code L = sum(dy * y)}, whose gradient with respect to
 * the output {@code y} is {@code dy}, so the backward pass given {@code dy} must return {@code dL/dtheta} for
 * every input and parameter.
 *
 * <p>{@link #TOLERANCE}: the truncation error is about {@code h^2 |L'''| / 6} and the rounding error about
 * {@code 2^-53 |L| / h}; for the O(1) data and shapes of at most 7 x 9 of the tests both are near 1e-10, so
 * atol 1e-6 + rtol 1e-6 leaves a margin of 10^4 while any error in a formula, O(1), still fails.
 */
public final class FiniteDifferences {
    /** Relative step, near the cube root of double's rounding error (6e-6), where the two errors balance. */
    public static final double STEP = 1e-6;

    /** For comparing a reference gradient with {@link #gradient}. */
    public static final Tolerance TOLERANCE = Tolerance.of(1e-6, 1e-6);

    private FiniteDifferences() {}

    /**
     * The gradient of {@code loss} with respect to every element of {@code theta}, which {@code loss} reads:
     * each element is moved by {@code +-h} in turn and restored.
     */
    public static double[] gradient(double[] theta, DoubleSupplier loss) {
        double[] grad = new double[theta.length];
        for (int i = 0; i < theta.length; i++) {
            double saved = theta[i];
            double h = STEP * Math.max(1, Math.abs(saved));
            theta[i] = saved + h;
            double up = loss.getAsDouble();
            theta[i] = saved - h;
            double down = loss.getAsDouble();
            theta[i] = saved;
            grad[i] = (up - down) / (2 * h);
        }
        return grad;
    }

    /** {@code sum_i dy[i] * y[i]}: the loss whose gradient with respect to {@code y} is {@code dy}. */
    public static double dot(double[] dy, double[] y) {
        double sum = 0;
        for (int i = 0; i < y.length; i++) {
            sum += dy[i] * y[i];
        }
        return sum;
    }
}
