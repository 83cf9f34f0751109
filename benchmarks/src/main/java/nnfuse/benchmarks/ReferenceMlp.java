package nnfuse.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import nnfuse.CrossEntropyOps;
import nnfuse.LayerNormOps;
import nnfuse.Tensor;
import nnfuse.reference.CrossEntropyReference;
import nnfuse.reference.LinearLnReluReference;
import nnfuse.reference.LinearReference;
import nnfuse.reference.SgdReference;

/**
 * The worksheet's MLP in pure Java, from nnfuse's reference kernels: {@link LinearLnReluReference} for each
 * hidden block and {@link LinearReference} for the logits, rounding to float between layers as the native
 * model does; a training step adds {@link CrossEntropyReference} and {@link SgdReference}. Its parameters are
 * copies of a model's state dict, so it computes what that model computes. Not thread-safe (a step updates
 * the parameters).
 */
final class ReferenceMlp {
    /**
     * One layer: {@code w[out, in]}, {@code b[out]}; {@code gamma} and {@code beta} null for the last. A
     * training step updates the arrays in place.
     */
    private record Layer(float[] w, float[] b, float[] gamma, float[] beta, int in, int out) {
        boolean hidden() {
            return gamma != null;
        }
    }

    /** What a hidden block's forward keeps for its backward. */
    private record Saved(float[] input, LinearLnReluReference.Forward forward) {}

    private final List<Layer> layers;

    private ReferenceMlp(List<Layer> layers) {
        this.layers = layers;
    }

    /**
     * The layers of a state dict of PyTorch's {@code Sequential(Linear, LayerNorm, ReLU, ..., Linear)}: block
     * {@code j}'s Linear under index {@code 3 j} and its LayerNorm under {@code 3 j + 1}, then the last Linear.
     */
    static ReferenceMlp of(Map<String, Tensor> stateDict) {
        List<Layer> layers = new ArrayList<>();
        int index = 0;
        while (stateDict.containsKey(index + ".weight")) {
            Tensor w = stateDict.get(index + ".weight");
            Tensor gamma = stateDict.get((index + 1) + ".weight");
            Tensor beta = stateDict.get((index + 1) + ".bias");
            layers.add(new Layer(w.toFloatArray(), stateDict.get(index + ".bias").toFloatArray(),
                    gamma == null ? null : gamma.toFloatArray(), beta == null ? null : beta.toFloatArray(),
                    Math.toIntExact(w.size(1)), Math.toIntExact(w.size(0))));
            index += 3;
        }
        return new ReferenceMlp(List.copyOf(layers));
    }

    /** The logits {@code [rows, classes]} of {@code x[rows, in]}. */
    float[] forward(float[] x, int rows) {
        return forward(x, rows, new ArrayList<>());
    }

    /**
     * One step of plain SGD ({@code torch.optim.SGD(params, lr)}) on the mean cross-entropy of the logits of
     * {@code x[rows, in]} against {@code labels[rows]}: forward, loss, backward, update. Returns the loss.
     */
    double trainStep(float[] x, long[] labels, int rows, float lr) {
        List<Saved> saved = new ArrayList<>();
        float[] logits = forward(x, rows, saved);
        Layer last = layers.getLast();
        CrossEntropyOps.Reduction mean = CrossEntropyOps.Reduction.MEAN;
        long ignore = CrossEntropyOps.DEFAULT_IGNORE_INDEX;
        double loss = CrossEntropyReference.forward(logits, labels, null, rows, last.out(), mean, ignore, 0)[0];
        double[] dy = CrossEntropyReference.backward(new float[] {1}, logits, labels, null, rows, last.out(), mean,
                ignore, 0);
        // Each layer's gradients use its weights before the update, and no earlier layer reads them after.
        LinearReference.Gradients g = LinearReference.backward(dy, widen(saved.getLast().input()), widen(last.w()),
                rows, last.in(), last.out());
        update(last.w(), g.dw(), lr);
        update(last.b(), g.db(), lr);
        dy = g.dx();
        for (int i = layers.size() - 2; i >= 0; i--) {
            Layer l = layers.get(i);
            LinearLnReluReference.Forward f = saved.get(i).forward();
            LinearLnReluReference.Gradients block = LinearLnReluReference.backward(dy, widen(saved.get(i).input()),
                    widen(l.w()), f.h(), f.mean(), f.rstd(), widen(l.gamma()), widen(l.beta()), rows, l.in(),
                    l.out(), true);
            update(l.w(), block.dw(), lr);
            update(l.b(), block.db(), lr);
            update(l.gamma(), block.dgamma(), lr);
            update(l.beta(), block.dbeta(), lr);
            dy = block.dx();
        }
        return loss;
    }

    /** The logits, adding each layer's input (and a hidden block's forward) to {@code saved}. */
    private float[] forward(float[] x, int rows, List<Saved> saved) {
        float[] activations = x;
        for (Layer l : layers) {
            double[] y;
            if (l.hidden()) {
                LinearLnReluReference.Forward f = LinearLnReluReference.forward(activations, l.w(), l.b(),
                        l.gamma(), l.beta(), rows, l.in(), l.out(), LayerNormOps.DEFAULT_EPS, true);
                saved.add(new Saved(activations, f));
                y = f.y();
            } else {
                saved.add(new Saved(activations, null));
                y = LinearReference.forward(activations, l.w(), l.b(), rows, l.in(), l.out());
            }
            activations = toFloat(y);
        }
        return activations;
    }

    /** {@code param -= lr * grad}, as SGD without momentum or weight decay does it, in float. */
    private static void update(float[] param, double[] grad, float lr) {
        SgdReference.step(param, null, toFloat(grad), lr, 0, 0, 0, false, true);
    }

    private static float[] toFloat(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            f[i] = (float) values[i];
        }
        return f;
    }

    private static double[] widen(float[] values) {
        double[] d = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            d[i] = values[i];
        }
        return d;
    }
}
