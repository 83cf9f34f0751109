package nnfuse.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import nnfuse.L2Ops;

/**
 * The worksheet's L2 penalty (Discussion 04, section 5),
 * {@code lambda * ||theta||^2} over the parameters whose state-dict names
 * {@code appliesTo} accepts, as an explicit term of the objective: its value
 * ({@link #value}) adds to the loss, and its gradient
 * {@code 2 * lambda * theta} ({@link #addGradient}) adds to the parameters'
 * gradients after the backward pass and before the optimizer's step.
 *
 * <p>Equivalence with weight decay: {@link SGD} with
 * {@code weightDecay = 2 * lambda} (and the same predicate) gives exactly the
 * same parameter updates, bit for bit, without the penalty showing in the
 * loss; see {@link SGD}. The gradient uses {@code lambda} rounded to float
 * ({@link L2Ops#backward} takes a float), the value the double.
 *
 * <p>Immutable; as thread-safe as the model it is applied to (not).
 */
public final class L2Penalty {
    private final double lambda;
    private final Predicate<String> appliesTo;

    /**
     * @param lambda    the strength; finite and >= 0
     * @param appliesTo which state-dict names it covers, e.g. {@link ParameterFilters#all()} (the worksheet's
     *                  theta, every parameter) or {@link ParameterFilters#excludingBiasesAndNormalization}
     */
    public L2Penalty(double lambda, Predicate<String> appliesTo) {
        if (!(lambda >= 0) || Double.isInfinite(lambda)) {
            throw new IllegalArgumentException("lambda must be finite and >= 0, got " + lambda);
        }
        if (appliesTo == null) {
            throw new IllegalArgumentException("appliesTo must not be null");
        }
        this.lambda = lambda;
        this.appliesTo = appliesTo;
    }

    /** The strength lambda. */
    public double lambda() {
        return lambda;
    }

    /** The weight decay that gives the same SGD updates: {@code 2 * lambda}, in float. */
    public float equivalentWeightDecay() {
        return 2 * (float) lambda;
    }

    /** {@code lambda * sum ||theta||^2} over the covered parameters of {@code model}, summed in double. */
    public double value(Module model) {
        return L2Ops.penalty(lambda, covered(model).stream().map(Parameter::data).toList());
    }

    /** Adds {@code 2 * lambda * theta} to the gradient of each covered parameter of {@code model}. */
    public void addGradient(Module model) {
        float l = (float) lambda;
        for (Parameter p : covered(model)) {
            L2Ops.backward(p.grad(), p.data(), l, true);
        }
    }

    @Override
    public String toString() {
        return "L2Penalty(lambda=" + lambda + ")";
    }

    private List<Parameter> covered(Module model) {
        if (model == null) {
            throw new IllegalArgumentException("model must not be null");
        }
        List<Parameter> covered = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
            if (appliesTo.test(e.getKey())) {
                covered.add(e.getValue());
            }
        }
        return covered;
    }
}
