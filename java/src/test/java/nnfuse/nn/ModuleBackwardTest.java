package nnfuse.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Map;
import nnfuse.LayerNormOps;
import nnfuse.Tensor;
import nnfuse.reference.BatchNormReference;
import nnfuse.reference.DropoutReference;
import nnfuse.reference.LayerNormReference;
import nnfuse.reference.LinearLnReluReference;
import nnfuse.reference.LinearReference;
import nnfuse.reference.ReluReference;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every module's backward pass against central differences of the double
 * reference of its forward pass ({@link GradCheck}), on small shapes with
 * random parameters, inputs and output gradients; and Sequential's chaining.
 *
 * <p>Tolerance: atol 5e-6 + rtol 5e-5. The differences are good to about
 * 1e-9 (see {@link GradCheck}). The native gradients are float: each is a sum
 * of at most 8 products of values up to about 3, or a LayerNorm or BatchNorm
 * expression over at most 8 such sums, so its error stays below about 16
 * float roundings of the largest term, 3e-6 (the largest error seen is 4e-7).
 * Inputs to a ReLU are kept at least 0.05 from the kink, 500 difference steps
 * away, so the differences never straddle it.
 */
class ModuleBackwardTest {
    private static final Tolerance GRAD = Tolerance.of(5e-6, 5e-5);
    private static final double EPS = LayerNormOps.DEFAULT_EPS;

    @Test
    void linear() {
        int rows = 5;
        int in = 4;
        int out = 3;
        for (boolean bias : new boolean[] {true, false}) {
            try (Linear m = randomized(new Linear(in, out, bias, 7), 1);
                    Tensor x = Tensor.of(TestData.normal(2, rows * in, 0, 1), rows, in)) {
                GradCheck.check("Linear bias=" + bias, m, x, TestData.normal(3, rows * out, 0, 1),
                        v -> linear(v, "", rows, in, out), GRAD);
            }
        }
    }

    /** A 3-d input: the leading dimensions are rows. */
    @Test
    void linearOnThreeDimensions() {
        try (Linear m = randomized(new Linear(3, 2, true, 7), 4);
                Tensor x = Tensor.of(TestData.normal(5, 2 * 3 * 3, 0, 1), 2, 3, 3)) {
            GradCheck.check("Linear 3-d", m, x, TestData.normal(6, 2 * 3 * 2, 0, 1), v -> linear(v, "", 6, 3, 2),
                    GRAD);
        }
    }

    @Test
    void layerNorm() {
        int rows = 4;
        int cols = 7;
        try (LayerNorm m = randomized(new LayerNorm(cols), 8);
                Tensor x = Tensor.of(TestData.normal(9, rows * cols, 0.5, 2), rows, cols)) {
            GradCheck.check("LayerNorm", m, x, TestData.normal(10, rows * cols, 0, 1),
                    v -> layerNorm(v.x(), v, "", rows, cols), GRAD);
        }
        try (LayerNorm plain = new LayerNorm(cols, 1e-5f, false, false);
                Tensor x = Tensor.of(TestData.normal(11, rows * cols, 0, 1), rows, cols)) {
            GradCheck.check("LayerNorm without affine", plain, x, TestData.normal(12, rows * cols, 0, 1),
                    v -> LayerNormReference.forward(v.x(), null, null, rows, cols, EPS).y(), GRAD);
        }
    }

    @Test
    void relu() {
        float[] x = awayFromZero(TestData.uniform(13, 24, -1, 1));
        try (ReLU m = new ReLU(); Tensor t = Tensor.of(x, 4, 6)) {
            GradCheck.check("ReLU", m, t, TestData.normal(14, 24, 0, 1), v -> ReluReference.forward(v.x()), GRAD);
        }
    }

    @Test
    void batchNorm() {
        int n = 6;
        int c = 5;
        for (boolean affine : new boolean[] {true, false}) {
            try (BatchNorm1d m = randomized(new BatchNorm1d(c, 1e-5f, 0.1f, affine, true), 15);
                    Tensor x = Tensor.of(TestData.normal(16, n * c, 1, 3), n, c)) {
                GradCheck.check("BatchNorm1d affine=" + affine, m, x, TestData.normal(17, n * c, 0, 1),
                        v -> BatchNormReference.forwardTraining(v.x(), null, null, v.parameters().get("weight"),
                                v.parameters().get("bias"), n, c, EPS, 0.1).y(), GRAD);
            }
        }
    }

    /** The mask of the backward pass is the forward's, drawn again from (seed, offset). */
    @ParameterizedTest(name = "inverted = {0}")
    @ValueSource(booleans = {true, false})
    void dropout(boolean inverted) {
        float p = 0.3f;
        long seed = 99;
        try (Dropout m = new Dropout(p, inverted, seed); Tensor x = Tensor.of(TestData.normal(18, 40, 0, 1), 5, 8)) {
            m.forward(x).close();
            // The second forward draws from offset 40: its backward must use that mask, not the first call's.
            m.forward(x).close();
            try (Tensor w = Tensor.of(TestData.normal(19, 40, 0, 1), 5, 8); Tensor dx = m.backward(w)) {
                double[] expected = TestData.widen(DropoutReference.forward(w.toFloatArray(), p, inverted, seed, 40));
                GRAD.assertClose("Dropout input gradient at offset 40", expected, dx.toFloatArray());
            }
            try (Dropout fresh = new Dropout(p, inverted, seed)) {
                GradCheck.check("Dropout", fresh, x, TestData.normal(20, 40, 0, 1),
                        v -> DropoutReference.forward(v.x(), p, inverted, seed, 0), GRAD);
            }
        }
    }

    @ParameterizedTest(name = "relu = {0}")
    @ValueSource(booleans = {true, false})
    void fusedBlock(boolean relu) {
        int rows = 5;
        int in = 4;
        int out = 6;
        try (FusedLinearLayerNormReLU m = randomized(new FusedLinearLayerNormReLU(in, out, relu, 1e-5f, 21), 22);
                Tensor x = Tensor.of(TestData.normal(34, rows * in, 0, 1), rows, in)) {
            GradCheck.Reference reference = v -> LinearLnReluReference.forward(v.x(), v.parameters().get("0.weight"),
                    v.parameters().get("0.bias"), v.parameters().get("1.weight"), v.parameters().get("1.bias"), rows,
                    in, out, EPS, false).y();
            assertAwayFromKink(reference, m, x);
            GradCheck.check("FusedLinearLayerNormReLU relu=" + relu, m, x, TestData.normal(24, rows * out, 0, 1),
                    relu ? v -> ReluReference.forward(reference.apply(v)) : reference, GRAD);
        }
    }

    /** Linear, LayerNorm and ReLU chained by Sequential, against the composed references. */
    @Test
    void sequential() {
        int rows = 5;
        int in = 4;
        int out = 6;
        Sequential model = new Sequential(new Linear(in, out, true, 25), new LayerNorm(out), new ReLU());
        try (Sequential m = randomized(model, 26);
                Tensor x = Tensor.of(TestData.normal(34, rows * in, 0, 1), rows, in)) {
            GradCheck.Reference beforeRelu = v -> layerNorm(linear(v, "0.", rows, in, out), v, "1.", rows, out);
            assertAwayFromKink(beforeRelu, m, x);
            GradCheck.check("Sequential", m, x, TestData.normal(28, rows * out, 0, 1),
                    v -> ReluReference.forward(beforeRelu.apply(v)), GRAD);
        }
    }

    /**
     * Sequential's backward is its children's, in reverse, each fed the
     * gradient the next returned: bit for bit the same as chaining them by
     * hand on an identical model.
     */
    @Test
    void sequentialChainsItsChildrenInReverse() {
        try (Sequential a = chainModel(); Sequential b = chainModel();
                Tensor x = Tensor.of(TestData.normal(29, 6 * 5, 0, 1), 6, 5);
                Tensor w = Tensor.of(TestData.normal(30, 6 * 3, 0, 1), 6, 3)) {
            float[] viaSequential;
            a.forward(x).close();
            try (Tensor dx = a.backward(w)) {
                viaSequential = dx.toFloatArray();
            }
            Tensor current = Module.copy(x);
            for (Module m : b.modules()) {
                Tensor next = m.forward(current);
                current.close();
                current = next;
            }
            current.close();
            current = Module.copy(w);
            for (Module m : b.modules().reversed()) {
                Tensor next = m.backward(current);
                current.close();
                current = next;
            }
            try (Tensor byHand = current) {
                Tolerance.assertBitIdentical("Sequential dx vs chained by hand", byHand.toFloatArray(), viaSequential);
            }
            Map<String, Parameter> gradsB = b.namedParameters();
            a.namedParameters().forEach((name, p) -> Tolerance.assertBitIdentical("Sequential grad " + name,
                    gradsB.get(name).grad().toFloatArray(), p.grad().toFloatArray()));
        }
    }

    /** Gradients sum over backward passes until zeroGrad, as PyTorch's .grad. */
    @Test
    void gradientsAccumulateUntilZeroGrad() {
        try (Linear m = randomized(new Linear(3, 2, true, 31), 32);
                Tensor x = Tensor.of(TestData.normal(33, 12, 0, 1), 4, 3);
                Tensor w = Tensor.of(TestData.normal(34, 8, 0, 1), 4, 2)) {
            m.forward(x).close();
            m.backward(w).close();
            float[] once = m.weight().grad().toFloatArray();
            m.forward(x).close();
            m.backward(w).close();
            float[] twice = m.weight().grad().toFloatArray();
            float[] doubled = once.clone();
            for (int i = 0; i < doubled.length; i++) {
                doubled[i] *= 2;
            }
            Tolerance.assertBitIdentical("Linear grad after two passes", doubled, twice);
            m.zeroGrad();
            Tolerance.assertBitIdentical("Linear grad after zeroGrad", new float[6], m.weight().grad().toFloatArray());
            Tolerance.assertBitIdentical("Linear bias grad after zeroGrad", new float[2],
                    m.bias().grad().toFloatArray());
        }
    }

    private static Sequential chainModel() {
        return randomized(new Sequential(new FusedLinearLayerNormReLU(5, 8, 35), new BatchNorm1d(8),
                new Dropout(0.25f, true, 36), new ReLU(), new Linear(8, 4, true, 37), new LayerNorm(4),
                new Linear(4, 3, false, 38)), 39);
    }

    /** Sets every parameter to random values (normalization scales near 1), so that no gradient is trivial. */
    static <M extends Module> M randomized(M module, long seed) {
        long s = seed;
        for (Map.Entry<String, Parameter> e : module.namedParameters().entrySet()) {
            Tensor t = e.getValue().data();
            boolean scale = t.rank() == 1 && e.getKey().endsWith("weight");
            t.copyFrom(TestData.normal(s++, (int) t.numel(), scale ? 1 : 0, scale ? 0.3 : 0.7));
        }
        return module;
    }

    private static double[] linear(GradCheck.Inputs v, String prefix, int rows, int in, int out) {
        return LinearReference.forward(v.x(), v.parameters().get(prefix + "weight"),
                v.parameters().get(prefix + "bias"), rows, in, out);
    }

    private static double[] layerNorm(double[] x, GradCheck.Inputs v, String prefix, int rows, int cols) {
        return LayerNormReference.forward(x, v.parameters().get(prefix + "weight"), v.parameters().get(prefix + "bias"),
                rows, cols, EPS).y();
    }

    /** Asserts the reference's values before the ReLU are at least 0.05 from 0, so no difference straddles the kink. */
    private static void assertAwayFromKink(GradCheck.Reference beforeRelu, Module m, Tensor x) {
        double[] z = beforeRelu.apply(GradCheck.Inputs.of(m, x));
        double closest = Arrays.stream(z).map(Math::abs).min().orElseThrow();
        assertTrue(closest > 0.05, "test data must keep away from the ReLU kink, closest " + closest);
    }

    private static float[] awayFromZero(float[] v) {
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.copySign(0.05f + Math.abs(v[i]), v[i]);
        }
        return v;
    }
}
