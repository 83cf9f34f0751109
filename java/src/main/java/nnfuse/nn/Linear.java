package nnfuse.nn;

import java.util.Arrays;
import java.util.List;
import nnfuse.Device;
import nnfuse.LinearOps;
import nnfuse.PackedWeight;
import nnfuse.Tensor;
import nnfuse.random.Philox4x32;

/**
 * {@code y = x W^T + b}, as PyTorch's {@code nn.Linear(in_features,
 * out_features, bias)}: weight {@code [out, in]}, bias {@code [out]}.
 *
 * <p>Initialization is PyTorch's default, which {@code kaiming_uniform_(a=sqrt(5))}
 * reduces to: weight and bias ~ U(-k, k) with {@code k = 1 / sqrt(in)}, drawn
 * from the counter-based generator so that the seed fixes every value:
 * weight element {@code i} (row-major) is {@code (2 u - 1) * k} rounded once to
 * float, with {@code u = Philox4x32.uniform(Philox4x32.draw(seed, i))} in (0, 1];
 * bias element {@code i} likewise from stream {@code seed + 1}. Values lie in
 * {@code (-k, k]}.
 *
 * <p>In training mode a forward keeps a copy of its input, from which the
 * backward pass forms the weight gradient ({@link LinearOps#backward}).
 *
 * <p>The forward runs on a {@link PackedWeight}, a copy of the weight that the
 * layer packs at its first forward and packs again at the next forward after
 * the weight's {@link Parameter#version()} moves (an optimizer step, a loaded
 * state dict, {@link Parameter#markChanged()}): inference with a fixed weight
 * packs it once. The copy takes the weight's memory again, until
 * {@link #close()}. Packing is the CPU engine's layout: with the parameters on
 * a CUDA device the forward takes the weight as it is.
 *
 * <p>Not thread-safe (see {@link Module}).
 */
public final class Linear extends Module {
    private final long inFeatures;
    private final long outFeatures;
    private final Parameter weight;
    private final Parameter bias;
    /** The packed copy of the weight, made at the first forward, and the weight's version it holds. */
    private PackedWeight packed;
    private long packedVersion;

    /**
     * @param inFeatures  input features, >= 1
     * @param outFeatures output features, >= 1
     * @param bias        whether to add a learned bias
     * @param seed        fixes the initial weight (stream {@code seed}) and bias (stream {@code seed + 1})
     */
    public Linear(long inFeatures, long outFeatures, boolean bias, long seed) {
        requirePositive("inFeatures", inFeatures);
        requirePositive("outFeatures", outFeatures);
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        double bound = 1 / Math.sqrt(inFeatures);
        this.weight = addParameter("weight", uniform(seed, bound, outFeatures, inFeatures));
        this.bias = bias ? addParameter("bias", uniform(seed + 1, bound, outFeatures)) : null;
    }

    /** The weight, {@code [out, in]}. */
    public Parameter weight() {
        checkOpen();
        return weight;
    }

    /** The bias, {@code [out]}, or null when built without one. */
    public Parameter bias() {
        checkOpen();
        return bias;
    }

    /** Applies the layer to {@code input} of shape {@code [..., in]}; returns {@code [..., out]}. */
    @Override
    public Tensor forward(Tensor input) {
        checkOpen();
        if (!isTraining()) {
            releaseSaved();
            return product(input);
        }
        return keeping(s -> product(s.keep(copy(input))));
    }

    /** {@code x W^T + b}: on the packed weight on the CPU, on the weight itself on a CUDA device. */
    private Tensor product(Tensor x) {
        if (onCuda()) {
            return LinearOps.forward(x, weight.data(), data(bias));
        }
        return LinearOps.forward(x, packedWeight(), data(bias));
    }

    /** Whether the parameters are in CUDA memory, where the kernels take the weight unpacked. */
    boolean onCuda() {
        return weight.data().device().isCuda();
    }

    /** The weight packed for the forward product, packed again first when the weight changed since. */
    PackedWeight packedWeight() {
        if (packed == null) {
            packed = PackedWeight.of(weight.data());
        } else if (packedVersion != weight.version()) {
            packed.repack(weight.data());
        }
        packedVersion = weight.version();
        return packed;
    }

    /** The packed copy was made from the weight before the move; the next CPU forward packs it again. */
    @Override
    void moved(Device device) {
        if (packed != null) {
            packed.close();
            packed = null;
        }
    }

    /** Frees the parameters, as every module does, and the packed copy of the weight. */
    @Override
    public void close() {
        super.close();
        if (packed != null) {
            packed.close();
            packed = null;
        }
    }

    /** {@code dx = dy W}; adds {@code dy^T x} to the weight's gradient and the column sums of dy to the bias's. */
    @Override
    public Tensor backward(Tensor gradOutput) {
        checkOpen();
        try (Saved s = takeSaved(gradOutput)) {
            Tensor x = s.get(0);
            return filled(x, dx -> LinearOps.backward(dx, weight.grad(), grad(bias), gradOutput, x,
                    weight.data(), true));
        }
    }

    @Override
    String extraRepr() {
        return "in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + py(bias != null);
    }

    @Override
    long inFeatures() {
        return inFeatures;
    }

    /** Keeps its input, from which the weight gradient is formed. */
    @Override
    long[] summarize(String name, long[] in, List<Summary.Row> rows) {
        requireFeatures(in, in.length - 1, inFeatures);
        long[] out = in.clone();
        out[out.length - 1] = outFeatures;
        long saved = numel(in) * FLOAT_BYTES;
        rows.add(row(name, out, numel(out), saved, saved));
        return out;
    }

    /** A tensor of the given shape with elements {@code (2 u - 1) * bound}, u from Philox stream {@code seed}. */
    private static Tensor uniform(long seed, double bound, long... shape) {
        float[] values = new float[Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact))];
        for (int i = 0; i < values.length; i++) {
            double u = Philox4x32.uniform(Philox4x32.draw(seed, i));
            values[i] = (float) ((2 * u - 1) * bound);
        }
        return Tensor.of(values, shape);
    }
}
