package nnfuse.reference;

/**
 * One step of {@code torch.optim.SGD} in plain Java, transcribing its
 * documented algorithm line by line: the oracle the native kernel is tested
 * against. Written for clarity, not speed. Stateless and thread-safe.
 *
 * <p>Unlike the other references this one computes in float, not double: the
 * update is a fixed sequence of float operations (PyTorch's, each rounded
 * once), so a float transcription is exact to the specification and the
 * native kernel must match it bit for bit, step after step.
 */
public final class SgdReference {
    private SgdReference() {}

    /**
     * Updates {@code param} (and {@code momentumBuffer} when momentum is not 0)
     * in place, element by element:
     * <pre>
     *   g = grad + weightDecay * param                     if weightDecay != 0
     *   buf = firstStep ? g : momentum * buf + (1 - dampening) * g
     *   g = nesterov ? g + momentum * buf : buf           both if momentum != 0
     *   param = param - lr * g
     * </pre>
     *
     * @param momentumBuffer the buffer, or null when {@code momentum == 0}
     */
    public static void step(float[] param, float[] momentumBuffer, float[] grad, float lr, float momentum,
            float dampening, float weightDecay, boolean nesterov, boolean firstStep) {
        ReferenceChecks.requireNonNull("param", param);
        ReferenceChecks.requireLength("grad", grad, param.length);
        if (momentum != 0) {
            ReferenceChecks.requireLength("momentumBuffer", momentumBuffer, param.length);
        }
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening");
        }
        for (int i = 0; i < param.length; i++) {
            float g = grad[i];
            if (weightDecay != 0) {
                g = g + weightDecay * param[i];
            }
            if (momentum != 0) {
                if (firstStep) {
                    momentumBuffer[i] = g;
                } else {
                    momentumBuffer[i] = momentum * momentumBuffer[i] + (1 - dampening) * g;
                }
                g = nesterov ? g + momentum * momentumBuffer[i] : momentumBuffer[i];
            }
            param[i] = param[i] - lr * g;
        }
    }
}
