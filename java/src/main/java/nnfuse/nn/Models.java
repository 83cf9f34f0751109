package nnfuse.nn;

/** Ready-made models. Stateless; each call builds a new model, which its caller owns. */
public final class Models {
    /** The worksheet model's layer widths: input, three hidden blocks, then the classes. */
    private static final long[] DISCUSSION04_WIDTHS = {52, 128, 256, 20, 1000};

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
        int blocks = DISCUSSION04_WIDTHS.length - 2;
        Module[] modules = new Module[fused ? blocks + 1 : 3 * blocks + 1];
        int m = 0;
        for (int j = 0; j < blocks; j++) {
            long in = DISCUSSION04_WIDTHS[j];
            long out = DISCUSSION04_WIDTHS[j + 1];
            long layerSeed = seed + 2L * j;
            if (fused) {
                modules[m++] = new FusedLinearLayerNormReLU(in, out, layerSeed);
            } else {
                modules[m++] = new Linear(in, out, true, layerSeed);
                modules[m++] = new LayerNorm(out);
                modules[m++] = new ReLU();
            }
        }
        modules[m] = new Linear(DISCUSSION04_WIDTHS[blocks], DISCUSSION04_WIDTHS[blocks + 1], true,
                seed + 2L * blocks);
        return new Sequential(modules);
    }
}
