package nnfuse.nn;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;
import nnfuse.CrossEntropyOps;
import nnfuse.CrossEntropyOps.Reduction;
import nnfuse.LayerNormOps;
import nnfuse.reference.CrossEntropyReference;
import nnfuse.reference.LayerNormReference;
import nnfuse.reference.LinearReference;
import nnfuse.reference.ReluReference;

/**
 * The worksheet's model (Discussion 04, section 1: three Linear + LayerNorm +
 * ReLU blocks of widths 52, 128, 256, 20, then Linear(20, 1000)) trained by
 * SGD with the mean cross-entropy, entirely in double: the forward and
 * backward passes chain the {@code nnfuse.reference} classes, and the update
 * is torch.optim.SGD's, with the parameters and momentum buffers kept in
 * double. The oracle of the native training step. Not thread-safe.
 */
final class WorksheetTrainingReference {
    private static final int[] WIDTHS = {52, 128, 256, 20, 1000};
    private static final int BLOCKS = 3;

    private final Map<String, double[]> parameters = new LinkedHashMap<>();
    private final Map<String, double[]> buffers = new LinkedHashMap<>();

    /** Starts from the parameters of {@code model}, the worksheet model fused or not. */
    WorksheetTrainingReference(Module model) {
        model.namedParameters().forEach((name, p) -> parameters.put(name, Fixtures.toDoubles(p.data().toFloatArray())));
    }

    /** The parameters by state-dict name (the reference's own arrays). */
    Map<String, double[]> parameters() {
        return parameters;
    }

    /**
     * One step: forward, mean cross-entropy, backward, and SGD on every
     * parameter ({@code weightDecay} on those {@code decayed} accepts).
     */
    void step(float[] x, long[] labels, int rows, double lr, double momentum, double dampening, double weightDecay,
            boolean nesterov, Predicate<String> decayed) {
        Map<String, double[]> grads = gradients(Fixtures.toDoubles(x), labels, rows);
        parameters.forEach((name, p) -> sgd(name, p, grads.get(name), lr, momentum, dampening,
                decayed.test(name) ? weightDecay : 0, nesterov));
    }

    /** The gradients of the mean cross-entropy with respect to every parameter, by state-dict name. */
    private Map<String, double[]> gradients(double[] x, long[] labels, int rows) {
        double[][] inputs = new double[BLOCKS + 1][];
        double[][] products = new double[BLOCKS][];
        LayerNormReference.Forward[] norms = new LayerNormReference.Forward[BLOCKS];
        double[][] outputs = new double[BLOCKS][];
        inputs[0] = x;
        for (int j = 0; j < BLOCKS; j++) {
            products[j] = LinearReference.forward(inputs[j], p(3 * j, "weight"), p(3 * j, "bias"), rows, WIDTHS[j],
                    WIDTHS[j + 1]);
            norms[j] = LayerNormReference.forward(products[j], p(3 * j + 1, "weight"), p(3 * j + 1, "bias"), rows,
                    WIDTHS[j + 1], LayerNormOps.DEFAULT_EPS);
            outputs[j] = ReluReference.forward(norms[j].y());
            inputs[j + 1] = outputs[j];
        }
        int classes = WIDTHS[BLOCKS + 1];
        double[] logits = LinearReference.forward(inputs[BLOCKS], p(9, "weight"), p(9, "bias"), rows,
                WIDTHS[BLOCKS], classes);
        double[] dlogits = CrossEntropyReference.backward(new float[] {1}, logits, labels, null, rows, classes,
                Reduction.MEAN, CrossEntropyOps.DEFAULT_IGNORE_INDEX, 0);

        Map<String, double[]> grads = new LinkedHashMap<>();
        LinearReference.Gradients last = LinearReference.backward(dlogits, inputs[BLOCKS], p(9, "weight"), rows,
                WIDTHS[BLOCKS], classes);
        grads.put("9.weight", last.dw());
        grads.put("9.bias", last.db());
        double[] grad = last.dx();
        for (int j = BLOCKS - 1; j >= 0; j--) {
            double[] dnorm = ReluReference.backward(grad, outputs[j]);
            LayerNormReference.Gradients ln = LayerNormReference.backward(dnorm, products[j], norms[j].mean(),
                    norms[j].rstd(), p(3 * j + 1, "weight"), rows, WIDTHS[j + 1]);
            LinearReference.Gradients linear = LinearReference.backward(ln.dx(), inputs[j], p(3 * j, "weight"),
                    rows, WIDTHS[j], WIDTHS[j + 1]);
            grads.put((3 * j + 1) + ".weight", ln.dgamma());
            grads.put((3 * j + 1) + ".bias", ln.dbeta());
            grads.put(3 * j + ".weight", linear.dw());
            grads.put(3 * j + ".bias", linear.db());
            grad = linear.dx();
        }
        return grads;
    }

    /**
     * torch.optim.SGD's update of one parameter, in double:
     * {@code g = grad + wd * p}; {@code buf = g} at the first step, else
     * {@code momentum * buf + (1 - dampening) * g}; {@code g = nesterov ? g +
     * momentum * buf : buf}; {@code p -= lr * g}.
     */
    private void sgd(String name, double[] p, double[] grad, double lr, double momentum, double dampening,
            double weightDecay, boolean nesterov) {
        double[] buf = buffers.get(name);
        boolean first = buf == null;
        if (momentum != 0 && first) {
            buf = new double[p.length];
            buffers.put(name, buf);
        }
        for (int i = 0; i < p.length; i++) {
            double g = grad[i] + weightDecay * p[i];
            if (momentum != 0) {
                buf[i] = first ? g : momentum * buf[i] + (1 - dampening) * g;
                g = nesterov ? g + momentum * buf[i] : buf[i];
            }
            p[i] -= lr * g;
        }
    }

    private double[] p(int index, String name) {
        return parameters.get(index + "." + name);
    }
}
