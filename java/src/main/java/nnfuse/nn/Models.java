package nnfuse.nn;

/** Ready-made models. Stateless; each call builds a new model, which its caller owns. */
public final class Models {
    /** The worksheet model's input features and classes. */
    private static final long DISCUSSION04_FEATURES = 52;
    private static final long DISCUSSION04_CLASSES = 1000;
    /** The worksheet model's hidden widths: the three Linear + LayerNorm + ReLU blocks. */
    private static final long[] DISCUSSION04_HIDDEN = {128, 256, 20};

    private Models() {}

    /**
     * The model of Discussion 04, section 1: PyTorch's
     * {@code nn.Sequential(Linear(52, 128), LayerNorm(128), ReLU(), Linear(128, 256),
     * LayerNorm(256), ReLU(), Linear(256, 20), LayerNorm(20), ReLU(), Linear(20, 1000))},
     * 66,756 parameters. With {@code fused}, each Linear + LayerNorm + ReLU runs
     * as one {@link FusedLinearLayerNormReLU}; both forms have the same state-dict
     * keys and the same initial values for a seed. The {@code j}-th Linear
     * (from 0) is initialized from seed {@code seed + 2 j} (its bias from
     * {@code seed + 2 j + 1}, see {@link Linear}).
     */
    public static Sequential discussion04(boolean fused, long seed) {
        return discussion04(fused, seed, DISCUSSION04_FEATURES, DISCUSSION04_CLASSES);
    }

    /**
     * The worksheet's architecture for other data: {@code inFeatures} inputs,
     * the same hidden blocks (128, 256, 20), and {@code classes} outputs, with
     * the seeds of {@link #discussion04(boolean, long)}.
     *
     * @param inFeatures the input features, >= 1
     * @param classes    the classes (logits per example), >= 1
     */
    public static Sequential discussion04(boolean fused, long seed, long inFeatures, long classes) {
        Module.requirePositive("inFeatures", inFeatures);
        Module.requirePositive("classes", classes);
        long[] widths = new long[DISCUSSION04_HIDDEN.length + 2];
        widths[0] = inFeatures;
        System.arraycopy(DISCUSSION04_HIDDEN, 0, widths, 1, DISCUSSION04_HIDDEN.length);
        widths[widths.length - 1] = classes;
        int blocks = DISCUSSION04_HIDDEN.length;
        Module[] modules = new Module[fused ? blocks + 1 : 3 * blocks + 1];
        int m = 0;
        for (int j = 0; j < blocks; j++) {
            long in = widths[j];
            long out = widths[j + 1];
            long layerSeed = seed + 2L * j;
            if (fused) {
                modules[m++] = new FusedLinearLayerNormReLU(in, out, layerSeed);
            } else {
                modules[m++] = new Linear(in, out, true, layerSeed);
                modules[m++] = new LayerNorm(out);
                modules[m++] = new ReLU();
            }
        }
        modules[m] = new Linear(widths[blocks], widths[blocks + 1], true, seed + 2L * blocks);
        return new Sequential(modules);
    }
}
