package nnfuse.nn;

import static nnfuse.nn.Fixtures.toDoubles;
import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import nnfuse.LinearOps;
import nnfuse.Tensor;
import nnfuse.random.Philox4x32;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Linear module: PyTorch's default initialization U(-1/sqrt(in), 1/sqrt(in))
 * drawn from the documented Philox streams, determinism by seed, the layer's
 * names, its forward pass against a closed form, and its packed copy of the
 * weight following the weight's changes (compared bit for bit with
 * {@link LinearOps} on the weight itself).
 *
 * <p>Tolerances: the initial values are compared exactly (bit for bit) with the
 * documented formula, which rounds once from double. The forward output is a
 * float32 dot product over {@code in} terms against a double sum: the float
 * element-wise tolerance 1e-6 widened for a reduction over {@code in} terms.
 */
class LinearModuleTest {
    @ParameterizedTest(name = "in = {0}")
    @ValueSource(ints = {1, 3, 52, 129, 4097})
    void initIsUniformWithinPyTorchsBound(int in) {
        double bound = 1 / Math.sqrt(in);
        try (Linear linear = new Linear(in, 31, true, 7)) {
            for (Parameter p : linear.parameters()) {
                float[] v = p.data().toFloatArray();
                for (float w : v) {
                    assertTrue(Math.abs(w) <= (float) bound, w + " outside U(-" + bound + ", " + bound + ")");
                }
            }
            float[] w = linear.weight().data().toFloatArray();
            double mean = Arrays.stream(toDoubles(w)).average().orElseThrow();
            double meanSquare = Arrays.stream(toDoubles(w)).map(x -> x * x).average().orElseThrow();
            // U(-k, k) has mean 0 and second moment k^2 / 3; 31 in values: allow 5 standard errors.
            double n = w.length;
            assertEquals(0, mean / bound, 5 * Math.sqrt(1.0 / 3 / n), "mean / k");
            assertEquals(1.0 / 3, meanSquare / (bound * bound), 5 * Math.sqrt(4.0 / 45 / n), "E[w^2] / k^2");
        }
    }

    /** The documented layout: weight element i from draw i of stream seed, bias from stream seed + 1. */
    @Test
    void initFollowsTheDocumentedStreams() {
        long seed = 0x5eed_0000_0001L;
        try (Linear linear = new Linear(5, 3, true, seed)) {
            assertArrayEquals(expectedInit(seed, 15, 5), linear.weight().data().toFloatArray());
            assertArrayEquals(expectedInit(seed + 1, 3, 5), linear.bias().data().toFloatArray());
        }
    }

    @Test
    void sameSeedSameWeightsOtherSeedOthers() {
        try (Linear a = new Linear(52, 128, true, 42); Linear b = new Linear(52, 128, true, 42);
                Linear c = new Linear(52, 128, true, 43)) {
            Tolerance.assertBitIdentical("linear init, same seed", a.weight().data().toFloatArray(),
                    b.weight().data().toFloatArray());
            Tolerance.assertBitIdentical("linear init, same seed", a.bias().data().toFloatArray(),
                    b.bias().data().toFloatArray());
            assertFalse(Arrays.equals(a.weight().data().toFloatArray(), c.weight().data().toFloatArray()));
            assertFalse(Arrays.equals(a.bias().data().toFloatArray(), c.bias().data().toFloatArray()));
        }
    }

    @Test
    void namesAndShapes() {
        try (Linear linear = new Linear(4, 3, true, 1); Linear noBias = new Linear(4, 3, false, 1)) {
            assertEquals(List.of("weight", "bias"), List.copyOf(linear.namedParameters().keySet()));
            assertArrayEquals(new long[] {3, 4}, linear.weight().shape());
            assertArrayEquals(new long[] {3}, linear.bias().shape());
            assertEquals(15, linear.parameterCount());
            assertEquals(List.of("weight"), List.copyOf(noBias.stateDict().keySet()));
            assertNull(noBias.bias());
            assertEquals("Linear(in_features=4, out_features=3, bias=True)", linear.toString());
        }
    }

    @ParameterizedTest(name = "bias = {0}")
    @ValueSource(booleans = {true, false})
    void forwardIsXWTransposedPlusB(boolean bias) {
        int rows = 7;
        int in = 33;
        int out = 8;
        float[] xs = TestData.normal(3, rows * in, 0, 1);
        try (Linear linear = new Linear(in, out, bias, 9); Tensor x = Tensor.of(xs, rows, in);
                Tensor y = linear.forward(x)) {
            float[] w = linear.weight().data().toFloatArray();
            float[] b = bias ? linear.bias().data().toFloatArray() : new float[out];
            double[] expected = new double[rows * out];
            for (int r = 0; r < rows; r++) {
                for (int o = 0; o < out; o++) {
                    double s = b[o];
                    for (int i = 0; i < in; i++) {
                        s += (double) xs[r * in + i] * w[o * in + i];
                    }
                    expected[r * out + o] = s;
                }
            }
            assertArrayEquals(new long[] {rows, out}, y.shape());
            Tolerance.of(1e-6, 1e-6).forReduction(in).assertClose("linear module y", expected, y.toFloatArray());
        }
    }

    /**
     * The forward's packed weight is packed again after each change the parameter's version records: an SGD
     * step, a loaded state dict, a caller's write followed by markChanged. Each forward must then give
     * LinearOps's result on the weight as it is, bit for bit.
     */
    @Test
    void packedWeightFollowsTheWeight() {
        try (Linear linear = new Linear(33, 17, true, 4);
                Tensor x = Tensor.of(TestData.normal(5, 6 * 33, 0, 1), 6, 33)) {
            linear.eval();
            assertForwardUsesTheCurrentWeight(linear, x);
            long version = linear.weight().version();
            linear.weight().data().copyFrom(TestData.normal(6, 17 * 33, 0, 0.1));
            linear.weight().markChanged();
            assertEquals(version + 1, linear.weight().version());
            assertForwardUsesTheCurrentWeight(linear, x);
            linear.weight().grad().copyFrom(TestData.normal(7, 17 * 33, 0, 1));
            try (SGD sgd = new SGD(linear, 0.5f)) {
                sgd.step();
            }
            assertEquals(version + 2, linear.weight().version());
            assertForwardUsesTheCurrentWeight(linear, x);
            try (Tensor w = Tensor.of(TestData.normal(8, 17 * 33, 0, 0.1), 17, 33);
                    Tensor b = Tensor.of(TestData.normal(9, 17, 0, 0.1), 17)) {
                linear.loadStateDict(Map.of("weight", w, "bias", b));
            }
            assertEquals(version + 3, linear.weight().version());
            assertForwardUsesTheCurrentWeight(linear, x);
        }
    }

    private static void assertForwardUsesTheCurrentWeight(Linear linear, Tensor x) {
        try (Tensor y = linear.forward(x);
                Tensor expected = LinearOps.forward(x, linear.weight().data(), linear.bias().data())) {
            Tolerance.assertBitIdentical("linear module y, weight version " + linear.weight().version(),
                    expected.toFloatArray(), y.toFloatArray());
        }
    }

    @Test
    void badArguments() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> new Linear(0, 3, true, 1)),
                "inFeatures", "0");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> new Linear(3, -1, true, 1)),
                "outFeatures", "-1");
        try (Linear linear = new Linear(4, 3, true, 1); Tensor x = Tensor.zeros(2, 5)) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> linear.forward(x)), "[2, 5]", "[3, 4]");
        }
    }

    private static float[] expectedInit(long seed, int n, int in) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double u = Philox4x32.uniform(Philox4x32.draw(seed, i));
            v[i] = (float) ((2 * u - 1) * (1 / Math.sqrt(in)));
        }
        return v;
    }
}
