package nnfuse.nn;

import java.util.ArrayList;
import java.util.List;
import nnfuse.LayerNormOps;
import nnfuse.LinearLnReluOps;
import nnfuse.Tensor;

/**
 * PyTorch's {@code Linear(in, out)}, {@code LayerNorm(out, eps)} and
 * {@code ReLU()} (the ReLU optional) in one native call,
 * {@link LinearLnReluOps}, which never materializes the intermediate outputs.
 *
 * <p>It stands for those two or three modules: in a {@link Sequential} it takes
 * as many indices, and its parameters carry their names, so at index {@code k}
 * they are {@code "<k>.weight"} and {@code "<k>.bias"} (the Linear) and
 * {@code "<k+1>.weight"} and {@code "<k+1>.bias"} (the LayerNorm); on its own it
 * names them as {@code nn.Sequential(Linear, LayerNorm, ReLU)} would,
 * {@code "0.weight"} to {@code "1.bias"}. A state dict of the unfused modules
 * therefore loads unchanged. The Linear is initialized exactly as
 * {@link Linear} with the same seed, the LayerNorm as {@link LayerNorm}.
 *
 * <p>In training mode a forward keeps a copy of its input and what
 * {@link LinearLnReluOps#savedBytes} counts: the product {@code h} before
 * normalization and each row's mean and rstd, from which
 * {@link LinearLnReluOps#backward} recomputes the normalized and rectified
 * activations. Its backward adds into the gradients of the Linear's and the
 * LayerNorm's parameters.
 *
 * <p>The forward runs on the Linear's packed weight (see {@link Linear}).
 *
 * <p>Not thread-safe (see {@link Module}).
 */
public final class FusedLinearLayerNormReLU extends Module {
    private final Linear linear;
    private final LayerNorm layerNorm;
    private final List<Module> parts;
    private final boolean relu;
    private final float eps;

    /** With the ReLU and PyTorch's LayerNorm eps, 1e-5. */
    public FusedLinearLayerNormReLU(long inFeatures, long outFeatures, long seed) {
        this(inFeatures, outFeatures, true, LayerNormOps.DEFAULT_EPS, seed);
    }

    /**
     * @param inFeatures  input features, >= 1
     * @param outFeatures output features, >= 1
     * @param relu        whether a ReLU follows the LayerNorm
     * @param eps         the LayerNorm's eps; finite and >= 0
     * @param seed        initializes the Linear as {@link Linear#Linear(long, long, boolean, long)} does
     */
    public FusedLinearLayerNormReLU(long inFeatures, long outFeatures, boolean relu, float eps, long seed) {
        requireEps(eps);
        List<Module> modules = new ArrayList<>();
        this.linear = new Linear(inFeatures, outFeatures, true, seed);
        modules.add(linear);
        this.layerNorm = new LayerNorm(outFeatures, eps, true, true);
        modules.add(layerNorm);
        if (relu) {
            modules.add(new ReLU());
        }
        this.parts = List.copyOf(modules);
        this.relu = relu;
        this.eps = eps;
    }

    /** The Linear's parameters and shape (its {@code forward} runs the Linear alone). */
    public Linear linear() {
        checkOpen();
        return linear;
    }

    /** The LayerNorm's parameters. */
    public LayerNorm layerNorm() {
        checkOpen();
        return layerNorm;
    }

    /** Returns {@code relu(layerNorm(linear(input)))} for {@code input} of shape {@code [..., in]}. */
    @Override
    public Tensor forward(Tensor input) {
        checkOpen();
        if (!isTraining()) {
            releaseSaved();
            Tensor y = Tensor.zeros(requireInput(input).device(), outputShape(input));
            try {
                forward(y, null, null, null, input);
            } catch (RuntimeException e) {
                y.close();
                throw e;
            }
            return y;
        }
        return keeping(s -> {
            Tensor x = s.keep(copy(input));
            long[] outShape = outputShape(x);
            long rows = x.numel() / x.size(-1);
            Tensor h = s.keep(Tensor.zeros(x.device(), outShape));
            Tensor mean = s.keep(Tensor.zeros(x.device(), rows));
            Tensor rstd = s.keep(Tensor.zeros(x.device(), rows));
            Tensor y = s.output(Tensor.zeros(x.device(), outShape));
            forward(y, h, mean, rstd, x);
            return y;
        });
    }

    private long[] outputShape(Tensor x) {
        long[] shape = x.shape();
        shape[shape.length - 1] = linear.weight().shape()[0];
        return shape;
    }

    /** The fused op into y (and h, mean, rstd when kept): on the packed weight on the CPU, else the weight. */
    private void forward(Tensor y, Tensor h, Tensor mean, Tensor rstd, Tensor x) {
        Tensor bias = linear.bias().data();
        Tensor gamma = layerNorm.weight().data();
        Tensor beta = layerNorm.bias().data();
        if (linear.onCuda()) {
            LinearLnReluOps.forward(y, h, mean, rstd, x, linear.weight().data(), bias, gamma, beta, eps, relu);
        } else {
            LinearLnReluOps.forward(y, h, mean, rstd, x, linear.packedWeight(), bias, gamma, beta, eps, relu);
        }
    }

    /** The block's backward pass in one native call. */
    @Override
    public Tensor backward(Tensor gradOutput) {
        checkOpen();
        try (Saved s = takeSaved(gradOutput)) {
            Tensor x = s.get(0);
            Parameter w = linear.weight();
            Parameter b = linear.bias();
            Parameter gamma = layerNorm.weight();
            Parameter beta = layerNorm.bias();
            return filled(x, dx -> LinearLnReluOps.backward(dx, w.grad(), b.grad(), gamma.grad(),
                    beta.grad(), gradOutput, x, w.data(), s.get(1), s.get(2), s.get(3), gamma.data(), beta.data(),
                    relu, true));
        }
    }

    @Override
    String extraRepr() {
        return linear.extraRepr() + ", eps=" + eps + ", relu=" + py(relu);
    }

    @Override
    long inFeatures() {
        return linear.inFeatures();
    }

    @Override
    List<Module> children() {
        return parts;
    }

    @Override
    List<Module> parts() {
        return parts;
    }

    /**
     * Counts the activations of the modules it stands for, and keeps its input
     * plus what {@link LinearLnReluOps#savedBytes} reports; the unfused figure
     * is what those modules keep when run one by one.
     */
    @Override
    long[] summarize(String name, long[] in, List<Summary.Row> rows) {
        List<Summary.Row> unfused = new ArrayList<>();
        long[] out = in;
        for (Module part : parts) {
            out = part.summarize(name, out, unfused);
        }
        long rowCount = numel(in) / in[in.length - 1];
        long saved = numel(in) * FLOAT_BYTES + LinearLnReluOps.savedBytes(rowCount, out[out.length - 1]);
        rows.add(row(name, out, unfused.stream().mapToLong(Summary.Row::activationElements).sum(), saved,
                unfused.stream().mapToLong(Summary.Row::savedBytes).sum()));
        return out;
    }
}
