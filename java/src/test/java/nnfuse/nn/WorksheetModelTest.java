package nnfuse.nn;

import static nnfuse.nn.Fixtures.toDoubles;
import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import nnfuse.Tensor;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The worksheet's model (Discussion 04, section 1) fused and unfused: PyTorch's
 * state-dict names, equal initial weights, equal outputs, and both against an
 * independent numpy forward pass (src/test/resources/nn/make_fixture.py).
 *
 * <p>Tolerances: every Linear output is a float32 dot product (at most 256
 * terms of size about 1/sqrt(in)), so it carries an absolute error of a few
 * 1e-7; each LayerNorm divides by a standard deviation of order 0.5 to 1, which
 * can double it, and the last Linear sums 20 such values. Outputs are of order
 * 1, so atol 5e-6 + rtol 5e-6 bounds the error of four layers with a margin of
 * a few; the same tolerance serves fused against unfused (LinearLnReluOps
 * promises bit-identity, but the module layer only relies on closeness).
 */
class WorksheetModelTest {
    private static final Tolerance Y = Tolerance.of(5e-6, 5e-6);
    private static final List<String> KEYS = List.of("0.weight", "0.bias", "1.weight", "1.bias", "3.weight",
            "3.bias", "4.weight", "4.bias", "6.weight", "6.bias", "7.weight", "7.bias", "9.weight", "9.bias");

    @ParameterizedTest(name = "fused={0}")
    @ValueSource(booleans = {true, false})
    void stateDictHasPyTorchsKeysAndShapes(boolean fused) {
        try (Sequential model = Models.discussion04(fused, 3)) {
            Map<String, Tensor> state = model.stateDict();
            assertEquals(KEYS, List.copyOf(state.keySet()));
            assertEquals(KEYS, List.copyOf(model.namedParameters().keySet()));
            assertArrayEquals(new long[] {128, 52}, state.get("0.weight").shape());
            assertArrayEquals(new long[] {256}, state.get("4.bias").shape());
            assertArrayEquals(new long[] {1000, 20}, state.get("9.weight").shape());
        }
    }

    @Test
    void fusedAndUnfusedStartFromTheSameWeights() {
        try (Sequential fused = Models.discussion04(true, 11); Sequential unfused = Models.discussion04(false, 11)) {
            Map<String, Tensor> f = fused.stateDict();
            unfused.stateDict().forEach((key, t) -> Tolerance.assertBitIdentical("worksheet init " + key,
                    t.toFloatArray(), f.get(key).toFloatArray()));
        }
    }

    @ParameterizedTest(name = "batch {0}")
    @ValueSource(ints = {1, 4, 7, 33, 129})
    void fusedMatchesUnfused(int batch) {
        try (Sequential fused = Models.discussion04(true, 5); Sequential unfused = Models.discussion04(false, 5);
                Tensor x = Tensor.of(TestData.normal(batch, batch * 52, 0.5, 2), batch, 52);
                Tensor yf = fused.forward(x); Tensor yu = unfused.forward(x)) {
            assertArrayEquals(new long[] {batch, 1000}, yf.shape());
            Y.assertClose("worksheet model fused vs unfused", toDoubles(yu.toFloatArray()), yf.toFloatArray());
        }
    }

    /** make_fixture.py draws its own weights and runs plain numpy Linear, LayerNorm and ReLU in float64. */
    @ParameterizedTest(name = "fused={0}")
    @ValueSource(booleans = {true, false})
    void matchesNumpy(boolean fused) throws IOException {
        try (Sequential model = Models.discussion04(fused, 0);
                Tensor x = Tensor.load(Fixtures.resource("input.npy"));
                Tensor expected = Tensor.load(Fixtures.resource("expected.npy"))) {
            model.load(Fixtures.resource("weights.npz"));
            try (Tensor y = model.forward(x)) {
                assertArrayEquals(new long[] {4, 1000}, y.shape());
                Y.assertClose("worksheet model vs numpy", toDoubles(expected.toFloatArray()), y.toFloatArray());
            }
        }
    }

    @Test
    void eachFormLoadsTheOthersStateDict() {
        try (Sequential fused = Models.discussion04(true, 1); Sequential unfused = Models.discussion04(false, 2);
                Tensor x = Tensor.of(TestData.normal(8, 3 * 52, 0, 1), 3, 52)) {
            fused.loadStateDict(unfused.stateDict());
            try (Tensor yf = fused.forward(x); Tensor yu = unfused.forward(x)) {
                Y.assertClose("worksheet model after loading", toDoubles(yu.toFloatArray()), yf.toFloatArray());
            }
        }
    }

    @Test
    void deterministicAcrossThreadCounts() {
        try (Sequential fused = Models.discussion04(true, 4);
                Tensor x = Tensor.of(TestData.normal(9, 129 * 52, 0, 1), 129, 52)) {
            List<float[]> runs = Threads.atEachCount(() -> {
                try (Tensor y = fused.forward(x)) {
                    return y.toFloatArray();
                }
            });
            for (float[] run : runs) {
                Tolerance.assertBitIdentical("worksheet model across thread counts", runs.getFirst(), run);
            }
        }
    }

    @Test
    void reprShowsPyTorchIndices() {
        try (Sequential fused = Models.discussion04(true, 1)) {
            String repr = fused.toString();
            assertTrue(repr.startsWith(
                    "Sequential(\n  (0-2): FusedLinearLayerNormReLU(in_features=52, out_features=128"), repr);
            assertTrue(repr.contains("\n  (9): Linear(in_features=20, out_features=1000, bias=True)\n)"), repr);
        }
    }

    /** Other widths keep the hidden blocks and the seeds: the hidden layers start from the same weights. */
    @ParameterizedTest(name = "fused={0}")
    @ValueSource(booleans = {true, false})
    void otherWidthsKeepTheHiddenBlocks(boolean fused) {
        try (Sequential model = Models.discussion04(fused, 5, 7, 3);
                Sequential worksheet = Models.discussion04(fused, 5)) {
            Map<String, Tensor> state = model.stateDict();
            assertEquals(KEYS, List.copyOf(state.keySet()));
            assertArrayEquals(new long[] {128, 7}, state.get("0.weight").shape());
            assertArrayEquals(new long[] {3, 20}, state.get("9.weight").shape());
            assertArrayEquals(new long[] {3}, state.get("9.bias").shape());
            assertEquals(7 * 128 + 128 + 2 * 128 + 128 * 256 + 256 + 2 * 256 + 256 * 20 + 20 + 2 * 20 + 20 * 3 + 3,
                    model.parameterCount());
            Tolerance.assertBitIdentical("second Linear, same seed", worksheet.stateDict().get("3.weight")
                    .toFloatArray(), state.get("3.weight").toFloatArray());
        }
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Models.discussion04(fused, 5, 0, 3)),
                "inFeatures must be >= 1, got 0");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Models.discussion04(fused, 5, 7, 0)),
                "classes must be >= 1, got 0");
    }
}
