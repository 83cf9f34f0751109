package nnfuse.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import nnfuse.LayerNormOps;
import nnfuse.Tensor;
import nnfuse.reference.LinearLnReluReference;
import nnfuse.reference.LinearReference;

/**
 * The worksheet's MLP in pure Java, from nnfuse's reference kernels: {@link LinearLnReluReference} for each
 * hidden block and {@link LinearReference} for the logits, rounding to float between layers as the native
 * model does. Its parameters are copies of a model's state dict, so it computes what that model computes.
 */
final class ReferenceMlp {
    /** One layer: {@code w[out, in]}, {@code b[out]}; {@code gamma} and {@code beta} null for the last. */
    private record Layer(float[] w, float[] b, float[] gamma, float[] beta, int in, int out) {}

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
        float[] activations = x;
        for (Layer l : layers) {
            double[] y = l.gamma() == null
                    ? LinearReference.forward(activations, l.w(), l.b(), rows, l.in(), l.out())
                    : LinearLnReluReference.forward(activations, l.w(), l.b(), l.gamma(), l.beta(), rows, l.in(),
                            l.out(), LayerNormOps.DEFAULT_EPS, true).y();
            activations = toFloat(y);
        }
        return activations;
    }

    private static float[] toFloat(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            f[i] = (float) values[i];
        }
        return f;
    }
}
