package nnfuse.nn;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import nnfuse.Tensor;
import nnfuse.testing.Tolerance;

/**
 * Checks a module's backward pass against central differences of a double
 * reference of its forward pass, for the objective {@code f = sum_i w_i y_i}
 * whose gradient with respect to the output is {@code w}: the gradient with
 * respect to the input is what {@link Module#backward} returns for {@code w},
 * and those with respect to the parameters are what it adds to
 * {@link Parameter#grad()}.
 *
 * <p>Each difference steps one float input or parameter by about {@code H} up
 * and down, each step rounded to float, and divides by the exact distance
 * between the two rounded values, so the float grid adds no error; the
 * objective is summed in double. The truncation error of a central difference
 * is {@code f''' H^2 / 6}, about 2e-7 for the third derivatives of order 1 of
 * these small layers, and the rounding error of the double objective divided
 * by {@code 2 H} is below 1e-12: the differences are good to about 1e-6.
 */
final class GradCheck {
    /** The step: small enough for the truncation error above, large enough to dwarf the float grid (1.2e-7 at 1). */
    static final double H = 1e-3;

    /** The reference forward pass: input and parameters (by state-dict name) to the output, in double. */
    interface Reference extends Function<Inputs, double[]> {}

    /** An input and the parameters by state-dict name, as float arrays that the check perturbs in place. */
    record Inputs(float[] x, Map<String, float[]> parameters) {}

    private GradCheck() {}

    /**
     * Runs {@code module} forward on {@code x} (in training mode) and backward on {@code w}, and asserts the input
     * gradient and every parameter gradient are within {@code tolerance} of the central differences of
     * {@code reference}. Parameter gradients start from zero.
     */
    static void check(String what, Module module, Tensor x, float[] w, Reference reference, Tolerance tolerance) {
        module.train();
        module.zeroGrad();
        Map<String, float[]> parameters = new LinkedHashMap<>();
        module.namedParameters().forEach((name, p) -> parameters.put(name, p.data().toFloatArray()));
        Inputs inputs = new Inputs(x.toFloatArray(), parameters);
        float[] dx;
        try (Tensor y = module.forward(x); Tensor gradOutput = Tensor.of(w, y.shape());
                Tensor gradInput = module.backward(gradOutput)) {
            dx = gradInput.toFloatArray();
        }
        tolerance.assertClose(what + " input gradient", numeric(inputs, inputs.x(), w, reference), dx);
        module.namedParameters().forEach((name, p) -> tolerance.assertClose(what + " gradient of " + name,
                numeric(inputs, parameters.get(name), w, reference), p.grad().toFloatArray()));
    }

    /** Central differences of {@code sum_i w_i reference(inputs)_i} with respect to each element of {@code v}. */
    static double[] numeric(Inputs inputs, float[] v, float[] w, Reference reference) {
        double[] g = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            float original = v[i];
            float plus = (float) (original + H);
            float minus = (float) (original - H);
            v[i] = plus;
            double fPlus = objective(reference.apply(inputs), w);
            v[i] = minus;
            double fMinus = objective(reference.apply(inputs), w);
            v[i] = original;
            g[i] = (fPlus - fMinus) / ((double) plus - minus);
        }
        return g;
    }

    private static double objective(double[] y, float[] w) {
        double f = 0;
        for (int i = 0; i < y.length; i++) {
            f += w[i] * y[i];
        }
        return f;
    }
}
