package nnfuse.nn;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SequencedMap;
import java.util.SequencedSet;
import java.util.function.Predicate;
import nnfuse.SgdOps;
import nnfuse.Tensor;

/**
 * Stochastic gradient descent, as PyTorch's {@code torch.optim.SGD(params, lr,
 * momentum, dampening, weight_decay, nesterov)}: {@link #step()} updates each
 * parameter from its {@link Parameter#grad()} with one native call
 * ({@link SgdOps#step}), in PyTorch's order and rounding:
 * <pre>
 *   g = grad + weight_decay * param
 *   buf = g (first step), else momentum * buf + (1 - dampening) * g    (when momentum != 0)
 *   g = nesterov ? g + momentum * buf : buf                            (when momentum != 0)
 *   param = param - lr * g
 * </pre>
 *
 * <p>Weight decay and the L2 penalty: PyTorch's {@code weight_decay} adds
 * {@code weight_decay * param} to the gradient, which is the gradient of the
 * penalty {@code (weight_decay / 2) * ||param||^2}. The worksheet's penalty
 * {@code lambda * ||theta||^2} has the gradient {@code 2 * lambda * theta}, so
 * {@code weightDecay = 2 * lambda} gives exactly the update of an explicit
 * {@link L2Penalty} of strength {@code lambda} whose gradient is added before
 * the step (bit for bit: both add {@code (2 * lambda) * param} to the gradient
 * in float, in the same order). Use one or the other, not both; only the
 * explicit penalty shows in the loss value.
 *
 * <p>Which parameters are decayed: a predicate on state-dict names (PyTorch
 * users build two parameter groups, one with {@code weight_decay=0}, for the
 * same effect); {@link ParameterFilters#excludingBiasesAndNormalization}
 * leaves biases and normalization parameters undecayed. A parameter whose
 * gradient was never allocated (no backward reached it; PyTorch's
 * {@code grad is None}) is skipped, as PyTorch skips it. Gradients zeroed by
 * {@link #zeroGrad()} stay allocated, as PyTorch's
 * {@code zero_grad(set_to_none=False)}, so their parameters still take the
 * decay and momentum terms.
 *
 * <p>The optimizer owns its momentum buffers (one per parameter, allocated at
 * its first step when momentum is not 0); {@link #close()} frees them. The
 * parameters stay the model's.
 *
 * <p>Not thread-safe; results do not depend on the thread count.
 */
public final class SGD implements AutoCloseable {
    /** A parameter with its name, whether it is decayed and its momentum buffer (null until the first step). */
    private static final class Slot {
        final String name;
        final Parameter parameter;
        final boolean decayed;
        Tensor buffer;

        Slot(String name, Parameter parameter, boolean decayed) {
            this.name = name;
            this.parameter = parameter;
            this.decayed = decayed;
        }
    }

    private final List<Slot> slots = new ArrayList<>();
    private final float momentum;
    private final float dampening;
    private final float weightDecay;
    private final boolean nesterov;
    private float lr;
    private boolean closed;

    /** Plain SGD on all of {@code model}'s parameters: PyTorch's defaults but for {@code lr}. */
    public SGD(Module model, float lr) {
        this(model, lr, 0f, 0f, 0f, false, ParameterFilters.all());
    }

    /**
     * SGD on all of {@code model}'s parameters.
     *
     * @param model       whose {@link Module#namedParameters()} are optimized
     * @param lr          the learning rate; finite and >= 0
     * @param momentum    finite and >= 0; 0 for none
     * @param dampening   finite; scales the new gradient in the momentum buffer by {@code 1 - dampening}
     * @param weightDecay finite and >= 0; 0 for none
     * @param nesterov    Nesterov momentum (requires momentum > 0 and dampening 0)
     * @param decayed     which state-dict names take weight decay, e.g. {@link ParameterFilters#all()}
     */
    public SGD(Module model, float lr, float momentum, float dampening, float weightDecay, boolean nesterov,
            Predicate<String> decayed) {
        this(namedParameters(model), lr, momentum, dampening, weightDecay, nesterov, decayed);
    }

    /**
     * SGD on the given parameters, in the map's order (e.g. a subset of
     * {@link Module#namedParameters()}); other arguments as for
     * {@link #SGD(Module, float, float, float, float, boolean, Predicate)}.
     *
     * @throws IllegalArgumentException with PyTorch's message for a bad hyperparameter or an empty map
     */
    public SGD(SequencedMap<String, Parameter> parameters, float lr, float momentum, float dampening,
            float weightDecay, boolean nesterov, Predicate<String> decayed) {
        checkLr(lr);
        if (!(momentum >= 0) || Float.isInfinite(momentum)) {
            throw new IllegalArgumentException("Invalid momentum value: " + momentum);
        }
        if (!Float.isFinite(dampening)) {
            throw new IllegalArgumentException("Invalid dampening value: " + dampening);
        }
        if (!(weightDecay >= 0) || Float.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("Invalid weight_decay value: " + weightDecay);
        }
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening");
        }
        if (parameters == null || parameters.isEmpty()) {
            throw new IllegalArgumentException("optimizer got an empty parameter list");
        }
        if (decayed == null) {
            throw new IllegalArgumentException("decayed must not be null");
        }
        parameters.forEach((name, p) -> {
            if (p == null) {
                throw new IllegalArgumentException("parameter " + name + " must not be null");
            }
            slots.add(new Slot(name, p, decayed.test(name)));
        });
        this.lr = lr;
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    /**
     * Updates every parameter that has a gradient, one {@link SgdOps#step}
     * call each, in the order given at construction.
     *
     * @throws IllegalStateException after {@link #close()}, or when a parameter's module was closed
     */
    public void step() {
        checkOpen();
        for (Slot s : slots) {
            if (!s.parameter.hasGrad()) {
                continue;
            }
            boolean first = momentum != 0 && s.buffer == null;
            if (first) {
                s.buffer = Tensor.zeros(s.parameter.data().device(), s.parameter.shape());
            }
            try {
                SgdOps.step(s.parameter.data(), s.buffer, s.parameter.grad(), lr, momentum, dampening,
                        s.decayed ? weightDecay : 0f, nesterov, first);
                s.parameter.markChanged();
            } catch (RuntimeException e) {
                if (first) {
                    s.buffer.close();
                    s.buffer = null;
                }
                throw e;
            }
        }
    }

    /** Zeroes the gradients of the optimized parameters ({@link Parameter#zeroGrad()}). */
    public void zeroGrad() {
        checkOpen();
        slots.forEach(s -> s.parameter.zeroGrad());
    }

    /** The learning rate. */
    public float lr() {
        return lr;
    }

    /** Sets the learning rate for the following steps (a schedule); finite and >= 0. */
    public void setLr(float lr) {
        checkLr(lr);
        this.lr = lr;
    }

    /** The weight decay given at construction. */
    public float weightDecay() {
        return weightDecay;
    }

    /** The names of the parameters the decay predicate chose, in order (a new set). */
    public SequencedSet<String> decayedParameters() {
        SequencedSet<String> names = new LinkedHashSet<>();
        slots.stream().filter(s -> s.decayed).forEach(s -> names.add(s.name));
        return names;
    }

    /**
     * The momentum buffer of the named parameter (PyTorch's
     * {@code state[p]['momentum_buffer']}), owned by the optimizer; null before
     * its first step or without momentum.
     *
     * @throws IllegalArgumentException for a name the optimizer does not hold
     */
    public Tensor momentumBuffer(String name) {
        checkOpen();
        return slots.stream().filter(s -> s.name.equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no parameter named " + name + " in this optimizer"))
                .buffer;
    }

    /** Frees the momentum buffers. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Slot s : slots) {
            if (s.buffer != null) {
                s.buffer.close();
                s.buffer = null;
            }
        }
    }

    /** PyTorch's hyperparameters, e.g. {@code SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, ...)}. */
    @Override
    public String toString() {
        return "SGD(lr=" + lr + ", momentum=" + momentum + ", dampening=" + dampening + ", weight_decay="
                + weightDecay + ", nesterov=" + Module.py(nesterov) + ", parameters=" + slots.size() + ")";
    }

    private static SequencedMap<String, Parameter> namedParameters(Module model) {
        if (model == null) {
            throw new IllegalArgumentException("model must not be null");
        }
        return model.namedParameters();
    }

    private static void checkLr(float lr) {
        if (!(lr >= 0) || Float.isInfinite(lr)) {
            throw new IllegalArgumentException("Invalid learning rate: " + lr);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }
}
