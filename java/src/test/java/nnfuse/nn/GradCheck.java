package nnfuse.nn;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import nnfuse.Tensor;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;

/**
 * Checks a module's backward pass against central differences
 * ({@link FiniteDifferences#gradient}) of a double reference of its forward
 * pass, for the objective {@code L = sum_i w_i y_i} whose gradient with respect
 * to the output is {@code w}: the gradient with respect to the input is what
 * {@link Module#backward} returns for {@code w}, and those with respect to the
 * parameters are what it adds to {@link Parameter#grad()}. The differences are
 * good to about 1e-9 (see {@link FiniteDifferences}).
 */
final class GradCheck {
    /** The reference forward pass: input and parameters (by state-dict name) to the output, in double. */
    interface Reference extends Function<Inputs, double[]> {}

    /** An input and the parameters by state-dict name, in double. */
    record Inputs(double[] x, Map<String, double[]> parameters) {
        /** These inputs with parameter {@code name} replaced by {@code value}. */
        Inputs with(String name, double[] value) {
            Map<String, double[]> p = new LinkedHashMap<>(parameters);
            p.put(name, value);
            return new Inputs(x, p);
        }

        /** The module's parameters and {@code x}, widened exactly. */
        static Inputs of(Module module, Tensor x) {
            Map<String, double[]> p = new LinkedHashMap<>();
            module.namedParameters().forEach((name, q) -> p.put(name, TestData.widen(q.data().toFloatArray())));
            return new Inputs(TestData.widen(x.toFloatArray()), p);
        }
    }

    private GradCheck() {}

    /**
     * Runs {@code module} forward on {@code x} (in training mode) and backward on {@code w}, and asserts the input
     * gradient and every parameter gradient are within {@code tolerance} of the central differences of
     * {@code reference}. Parameter gradients start from zero.
     */
    static void check(String what, Module module, Tensor x, float[] w, Reference reference, Tolerance tolerance) {
        module.train();
        module.zeroGrad();
        Inputs inputs = Inputs.of(module, x);
        float[] dx;
        try (Tensor y = module.forward(x); Tensor gradOutput = Tensor.of(w, y.shape());
                Tensor gradInput = module.backward(gradOutput)) {
            dx = gradInput.toFloatArray();
        }
        tolerance.assertClose(what + " input gradient", FiniteDifferences.gradient(
                v -> FiniteDifferences.dot(w, reference.apply(new Inputs(v, inputs.parameters()))), inputs.x()), dx);
        module.namedParameters().forEach((name, p) -> tolerance.assertClose(what + " gradient of " + name,
                FiniteDifferences.gradient(v -> FiniteDifferences.dot(w, reference.apply(inputs.with(name, v))),
                        inputs.parameters().get(name)), p.grad().toFloatArray()));
    }
}
