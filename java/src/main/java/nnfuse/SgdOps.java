package nnfuse;

import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Stochastic gradient descent, one step of PyTorch's {@code torch.optim.SGD(params, lr, momentum, dampening,
 * weight_decay, nesterov)} on one parameter tensor, element by element, in float:
 * <pre>
 *   g = grad + weightDecay * param                      if weightDecay != 0
 *   buf = firstStep ? g : momentum * buf + (1 - dampening) * g
 *   g = nesterov ? g + momentum * buf : buf             both if momentum != 0
 *   param = param - lr * g
 * </pre>
 * Each operation is rounded to float once, in this order (PyTorch's
 * {@code _single_tensor_sgd}), so a float transcription of the algorithm
 * gives the same bits. PyTorch's vectorized CPU kernels fuse {@code a + alpha * b}
 * into an FMA, which can differ from this in the last bit.
 *
 * <p>Weight decay and the L2 penalty: {@code weight_decay} adds
 * {@code weightDecay * param} to the gradient, which is the gradient of the
 * penalty {@code (weightDecay / 2) * ||param||^2}. The explicit penalty
 * {@code lambda * ||theta||^2} of {@link L2Ops} has the gradient
 * {@code 2 * lambda * theta} ({@link L2Ops#backward(Tensor, Tensor, float, boolean)}),
 * so {@code weightDecay = 2 * lambda} here and accumulating
 * {@code L2Ops.backward(grad, param, lambda, true)} before a step with
 * {@code weightDecay = 0} give bit-identical updates: {@code 2 * lambda} is
 * exact in float, and both round the product and the sum once, in the same
 * order.
 *
 * <p>Stateless and thread-safe; a step updates {@code param} and the momentum
 * buffer in place, so concurrent steps must not share them. Results do not
 * depend on the thread count.
 */
public final class SgdOps {
    private static final String OP = "sgdStep";

    private SgdOps() {}

    /**
     * Updates {@code param} in place by one SGD step.
     *
     * @param param          the parameter, any shape; updated in place
     * @param momentumBuffer the momentum buffer, shape of {@code param}, updated in place; may be null when
     *                       {@code momentum == 0} (it is not touched then)
     * @param grad           the gradient of the loss with respect to {@code param}, shape of {@code param}
     * @param lr             learning rate; finite and >= 0
     * @param momentum       momentum factor; finite and >= 0 (0: plain SGD)
     * @param dampening      dampening of the gradient in the momentum buffer; finite
     * @param weightDecay    weight decay ({@code 2 * lambda} for the penalty {@code lambda * ||param||^2}); finite
     *                       and >= 0
     * @param nesterov       Nesterov momentum; requires {@code momentum > 0} and {@code dampening == 0}
     * @param firstStep      true on the first step, which sets the buffer to the gradient (PyTorch's empty
     *                       {@code momentum_buffer} state); false afterwards
     */
    public static void step(Tensor param, Tensor momentumBuffer, Tensor grad, float lr, float momentum,
            float dampening, float weightDecay, boolean nesterov, boolean firstStep) {
        Checks.tensor(OP, "param", param);
        Checks.tensor(OP, "grad", grad);
        Checks.optional(OP, "momentumBuffer", momentumBuffer);
        Checks.shape(OP, "grad", grad, param.shape(), "the shape of param " + param.describe());
        Checks.shape(OP, "momentumBuffer", momentumBuffer, param.shape(), "the shape of param " + param.describe());
        Checks.distinct(OP, 2, List.of("param", "momentumBuffer", "grad"), param, momentumBuffer, grad);
        hyperparameter("lr", "learning rate", lr);
        hyperparameter("momentum", "momentum value", momentum);
        hyperparameter("weightDecay", "weight_decay value", weightDecay);
        if (!Float.isFinite(dampening)) {
            throw new IllegalArgumentException(OP + ": dampening must be finite, got " + dampening);
        }
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            // PyTorch's message (torch.optim.SGD.__init__).
            throw new IllegalArgumentException(OP + ": Nesterov momentum requires a momentum and zero dampening, got "
                    + "momentum " + momentum + " and dampening " + dampening);
        }
        if (momentum != 0 && momentumBuffer == null) {
            throw new IllegalArgumentException(OP + ": momentumBuffer must not be null when momentum is " + momentum
                    + " (param " + param.describe() + ")");
        }
        Device device = Checks.device(OP, List.of("param", "momentumBuffer", "grad"), param, momentumBuffer, grad);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_sgd_step_f32(param.address(), Tensor.segmentOrNull(momentumBuffer),
                    grad.address(), param.numel(), lr, momentum, dampening, weightDecay, nesterov ? 1 : 0,
                    firstStep ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_sgd_step_f32(param.address(), Tensor.segmentOrNull(momentumBuffer),
                    grad.address(), param.numel(), lr, momentum, dampening, weightDecay, nesterov ? 1 : 0,
                    firstStep ? 1 : 0));
        }
    }

    /** {@code value} is finite and >= 0; the message carries PyTorch's "Invalid ..." text. */
    private static void hyperparameter(String name, String what, float value) {
        if (!(value >= 0) || Float.isInfinite(value)) {
            throw new IllegalArgumentException(OP + ": Invalid " + what + ": " + value + " (" + name
                    + " must be finite and >= 0)");
        }
    }
}
