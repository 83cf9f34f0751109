package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import nnfuse.DType;
import nnfuse.Tensor;
import nnfuse.testing.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What a module keeps for its backward pass, and when: exactly the bytes
 * {@link Summary} reports after a training-mode forward, nothing after an
 * evaluation-mode forward, nothing after the backward, the next forward or
 * close (which free the kept tensors), and clear errors for a backward
 * without its forward or with a bad gradient. Byte counts are integers and
 * compared exactly.
 */
class KeptStateTest {
    private static final int BATCH = 6;

    /** Every module kind, and containers of them, each with the features of its input. */
    static Stream<Arguments> modules() {
        return Stream.of(
                Arguments.of("Linear", (Supplier<Module>) () -> new Linear(5, 3, true, 1), 5),
                Arguments.of("LayerNorm", (Supplier<Module>) () -> new LayerNorm(5), 5),
                Arguments.of("ReLU", (Supplier<Module>) ReLU::new, 5),
                Arguments.of("BatchNorm1d", (Supplier<Module>) () -> new BatchNorm1d(5), 5),
                Arguments.of("Dropout", (Supplier<Module>) () -> new Dropout(2), 5),
                Arguments.of("Fused", (Supplier<Module>) () -> new FusedLinearLayerNormReLU(5, 4, 3), 5),
                Arguments.of("worksheet fused", (Supplier<Module>) () -> Models.discussion04(true, 4), 52),
                Arguments.of("worksheet unfused", (Supplier<Module>) () -> Models.discussion04(false, 4), 52),
                Arguments.of("mixed", (Supplier<Module>) () -> new Sequential(new Linear(5, 8, true, 5),
                        new BatchNorm1d(8), new ReLU(), new Dropout(6), new Sequential(new FusedLinearLayerNormReLU(
                                8, 4, 7), new Linear(4, 2, false, 8))), 5));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modules")
    void trainingForwardKeepsWhatSummaryReports(String name, Supplier<Module> make, int features) {
        try (Module m = make.get(); Tensor x = input(features)) {
            long expected = m instanceof ReLU || m instanceof Dropout ? expectedWithoutFeatures(m) : m.summary(BATCH)
                    .savedBytes();
            m.forward(x).close();
            assertEquals(expected, m.keptBytes(), name + " after a training forward");
            List<Tensor> kept = m.keptTensors();
            try (Tensor dy = m.forward(x)) {
                assertTrue(kept.stream().allMatch(Tensor::isClosed), "the next forward frees the earlier state");
                assertEquals(expected, m.keptBytes(), name + " after a second forward");
                kept = m.keptTensors();
                m.backward(dy).close();
            }
            assertTrue(kept.stream().allMatch(Tensor::isClosed), "backward frees the state");
            assertEquals(0, m.keptBytes(), name + " after backward");
            assertMessage(assertThrows(IllegalStateException.class, () -> backwardOnes(m, x)), "backward",
                    "preceding forward in training mode");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modules")
    void evalForwardKeepsNothing(String name, Supplier<Module> make, int features) {
        try (Module m = make.get(); Tensor x = input(features)) {
            m.forward(x).close();
            List<Tensor> kept = m.keptTensors();
            m.eval();
            m.forward(x).close();
            assertEquals(0, m.keptBytes(), name + " after an eval forward");
            assertTrue(kept.stream().allMatch(Tensor::isClosed), "an eval forward frees the training state");
            assertTrue(m.parameters().stream().noneMatch(Parameter::hasGrad), "inference allocates no gradient");
            assertMessage(assertThrows(IllegalStateException.class, () -> backwardOnes(m, x)),
                    "training mode", "eval mode");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modules")
    void closeFreesTheKeptStateAndGradients(String name, Supplier<Module> make, int features) {
        Module m = make.get();
        try (Tensor x = input(features)) {
            try (Tensor y = m.forward(x)) {
                m.backward(y).close();
            }
            m.forward(x).close();
            List<Tensor> kept = m.keptTensors();
            List<Tensor> grads = m.parameters().stream().map(Parameter::grad).toList();
            List<Parameter> parameters = m.parameters();
            m.close();
            assertTrue(kept.stream().allMatch(Tensor::isClosed), name + ": close frees the kept state");
            assertTrue(grads.stream().allMatch(Tensor::isClosed), name + ": close frees the gradients");
            assertEquals(0, m.keptBytes());
            assertThrows(IllegalStateException.class, () -> backwardOnes(m, x));
            parameters.forEach(p -> assertMessage(assertThrows(IllegalStateException.class, p::grad),
                    "closed module"));
        }
    }

    @Test
    void backwardBeforeAnyForward() {
        try (Linear linear = new Linear(3, 2, true, 1); Tensor dy = Tensor.zeros(4, 2)) {
            assertMessage(assertThrows(IllegalStateException.class, () -> linear.backward(dy)),
                    "Linear(in_features=3, out_features=2, bias=True): backward needs the state kept by a preceding "
                            + "forward in training mode", "no forward yet");
        }
    }

    /** A bad gradient is refused before the state is used, so a correct backward can follow. */
    @Test
    void badGradOutputKeepsTheState() {
        try (Linear linear = new Linear(3, 2, true, 1); Tensor x = Tensor.zeros(4, 3); Tensor y = linear.forward(x);
                Tensor wrongShape = Tensor.zeros(4, 3); Tensor wrongType = Tensor.zeros(DType.INT64, 4, 2)) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> linear.backward(wrongShape)),
                    "gradOutput", "[4, 2]", "float32[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> linear.backward(wrongType)),
                    "gradOutput", "int64[4, 2]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> linear.backward(null)),
                    "gradOutput", "null");
            Tensor closed = Tensor.zeros(4, 2);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> linear.backward(closed)),
                    "gradOutput", "closed");
            linear.backward(y).close();
            assertTrue(linear.weight().hasGrad());
        }
    }

    /**
     * Sequential checks every child before running any backward: a child
     * without state is named, and no gradient is touched.
     */
    @Test
    void sequentialChecksEveryChildFirst() {
        ReLU relu = new ReLU();
        try (Sequential model = new Sequential(new Linear(3, 4, true, 1), relu, new Linear(4, 2, true, 2));
                Tensor x = Tensor.zeros(5, 3); Tensor y = model.forward(x); Tensor h = Tensor.zeros(5, 4)) {
            relu.eval();
            relu.forward(h).close();
            assertMessage(assertThrows(IllegalStateException.class, () -> model.backward(y)),
                    "ReLU(): backward needs");
            assertTrue(model.parameters().stream().noneMatch(Parameter::hasGrad), "no gradient was accumulated");
        }
        try (Sequential empty = new Sequential(); Tensor g = Tensor.of(new float[] {1, 2}, 2);
                Tensor dx = empty.backward(g)) {
            assertEquals(List.of(1f, 2f), List.of(dx.get(0), dx.get(1)), "an empty Sequential passes the gradient on");
        }
    }

    @Test
    void parameterGradIsLazyAndZeroed() {
        try (Linear linear = new Linear(2, 2, true, 1)) {
            Parameter w = linear.weight();
            assertFalse(w.hasGrad());
            w.zeroGrad();
            assertFalse(w.hasGrad(), "zeroGrad allocates nothing");
            Tensor g = w.grad();
            assertTrue(w.hasGrad());
            assertEquals(List.of(0f, 0f, 0f, 0f), List.of(g.get(0, 0), g.get(0, 1), g.get(1, 0), g.get(1, 1)));
            g.fill(3f);
            linear.zeroGrad();
            assertEquals(0f, w.grad().get(1, 1), "Module.zeroGrad reaches every parameter");
            assertSame(g, w.grad(), "the same tensor every time");
        }
    }

    /** ReLU and Dropout fix no input width, so their summary needs a container that does. */
    private static long expectedWithoutFeatures(Module m) {
        return m instanceof ReLU ? (long) BATCH * 5 * Float.BYTES : 0;
    }

    private static Tensor input(int features) {
        return Tensor.of(TestData.normal(features, BATCH * features, 0, 1), BATCH, features);
    }

    private static void backwardOnes(Module m, Tensor x) {
        try (Tensor g = Tensor.zeros(x.shape())) {
            m.backward(g).close();
        }
    }
}
