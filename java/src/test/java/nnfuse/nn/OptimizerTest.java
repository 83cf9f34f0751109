package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.function.Predicate;
import nnfuse.Tensor;
import nnfuse.reference.L2Reference;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SGD against PyTorch's update rule computed by hand, its validation
 * messages, the decay exclusions, and the L2 penalty: its value, its
 * gradient, and the equivalence of {@code weight_decay = 2 * lambda} with the
 * explicit penalty.
 *
 * <p>Tolerances: the hand-computed sequences are exact decimals (double); each
 * float step rounds about four operations on values of order 1, so three
 * steps stay within 1e-6 absolute (atol 1e-6, rtol 1e-6). The penalty's value
 * is a double sum of exact float squares in another order than the
 * reference's: relative error of order 1e-16 per term, bound rtol 1e-12. The
 * gradient and the equivalence are single float roundings in the same order,
 * compared bit for bit.
 */
class OptimizerTest {
    private static final Tolerance STEP = Tolerance.of(1e-6, 1e-6);
    private static final Tolerance PENALTY = Tolerance.of(0, 1e-12);
    private static final float[] P0 = {1.0f, -2.0f, 0.5f};
    private static final float[] G = {0.5f, -0.25f, 1.0f};

    /**
     * lr 0.1, momentum 0.9, dampening 0.1, weight_decay 0.01, a constant
     * gradient. Step 1: g = 0.5 + 0.01 * 1 = 0.51, buf = g, p = 1 - 0.1 * 0.51 =
     * 0.949. Step 2: g = 0.5 + 0.01 * 0.949 = 0.50949, buf = 0.9 * 0.51 + 0.9 *
     * 0.50949 = 0.917541, p = 0.949 - 0.0917541 = 0.8572459. Likewise for the
     * other elements and step 3.
     */
    @Test
    void momentumWithDampeningAndDecay() {
        assertSequence(0.1f, 0.9f, 0.1f, 0.01f, false,
                new double[][] {{0.949, -1.973, 0.3995}, {0.8572459, -1.9244243, 0.21869045},
                        {0.7288956887, -1.856474188, -0.03423496641}},
                new double[][] {{0.51, -0.27, 1.005}, {0.917541, -0.485757, 1.8080955},
                        {1.283502113, -0.6795011187, 2.529254164}});
    }

    /**
     * Nesterov, dampening 0. Step 1: g = 0.51, buf = 0.51, update g + 0.9 buf =
     * 0.969, p = 1 - 0.0969 = 0.9031. Step 2: g = 0.5 + 0.009031 = 0.509031,
     * buf = 0.459 + 0.509031 = 0.968031, update 0.509031 + 0.8712279 =
     * 1.3802589, p = 0.9031 - 0.13802589 = 0.76507411.
     */
    @Test
    void nesterov() {
        assertSequence(0.1f, 0.9f, 0f, 0.01f, true,
                new double[][] {{0.9031, -1.9487, 0.30905}, {0.76507411, -1.87562747, 0.037057805},
                        {0.5902099582, -1.783052331, -0.3075274353}},
                new double[][] {{0.51, -0.27, 1.005}, {0.968031, -0.512487, 1.9075905},
                        {1.378878641, -0.7299945747, 2.717202028}});
    }

    /** Plain SGD: p = p - 0.1 g each step, and no momentum buffer. */
    @Test
    void plain() {
        assertSequence(0.1f, 0f, 0f, 0f, false,
                new double[][] {{0.95, -1.975, 0.4}, {0.9, -1.95, 0.3}, {0.85, -1.925, 0.2}}, null);
    }

    /** PyTorch's ValueError texts (torch/optim/sgd.py). */
    @Test
    void validatesAsPyTorch() {
        try (Linear model = new Linear(2, 1, true, 1)) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> new SGD(model, -1f)),
                    "Invalid learning rate: -1.0");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> new SGD(model, Float.NaN)),
                    "Invalid learning rate: NaN");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> new SGD(model, 0.1f, -0.5f, 0f, 0f, false, ParameterFilters.all())),
                    "Invalid momentum value: -0.5");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> new SGD(model, 0.1f, 0f, 0f, -0.1f, false, ParameterFilters.all())),
                    "Invalid weight_decay value: -0.1");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> new SGD(model, 0.1f, 0f, Float.POSITIVE_INFINITY, 0f, false, ParameterFilters.all())),
                    "Invalid dampening value: Infinity");
            for (float[] md : new float[][] {{0f, 0f}, {0.9f, 0.1f}}) {
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> new SGD(model, 0.1f, md[0], md[1], 0f, true, ParameterFilters.all())),
                        "Nesterov momentum requires a momentum and zero dampening");
            }
            assertMessage(assertThrows(IllegalArgumentException.class, () -> new SGD(new LinkedHashMap<>(), 0.1f,
                    0f, 0f, 0f, false, ParameterFilters.all())), "optimizer got an empty parameter list");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> new SGD(model, 0.1f, 0f, 0f, 0f, false, null)), "decayed", "null");
            try (SGD sgd = new SGD(model, 0.1f)) {
                assertMessage(assertThrows(IllegalArgumentException.class, () -> sgd.setLr(-2f)),
                        "Invalid learning rate: -2.0");
                sgd.setLr(0.5f);
                assertEquals(0.5f, sgd.lr());
                assertEquals("SGD(lr=0.5, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, "
                        + "parameters=2)", sgd.toString());
                assertMessage(assertThrows(IllegalArgumentException.class, () -> sgd.momentumBuffer("x")),
                        "no parameter named x");
            }
        }
    }

    /** The ready-made exclusion keeps exactly the Linear weights, fused or not, and with batch norm. */
    @ParameterizedTest(name = "fused = {0}")
    @ValueSource(booleans = {true, false})
    void decayExcludesBiasesAndNormalization(boolean fused) {
        try (Sequential model = Models.discussion04(fused, 1);
                Sequential withBatchNorm = new Sequential(new Linear(3, 4, true, 1), new BatchNorm1d(4),
                        new FusedLinearLayerNormReLU(4, 5, 2), new Linear(5, 2, false, 3))) {
            Predicate<String> decayed = ParameterFilters.excludingBiasesAndNormalization(model);
            assertEquals(List.of("0.weight", "3.weight", "6.weight", "9.weight"),
                    model.namedParameters().keySet().stream().filter(decayed).toList());
            Predicate<String> decayedBn = ParameterFilters.excludingBiasesAndNormalization(withBatchNorm);
            assertEquals(List.of("0.weight", "2.weight", "5.weight"),
                    withBatchNorm.namedParameters().keySet().stream().filter(decayedBn).toList());
            try (SGD sgd = new SGD(model, 0.1f, 0f, 0f, 0.5f, false, decayed)) {
                assertEquals(List.of("0.weight", "3.weight", "6.weight", "9.weight"),
                        List.copyOf(sgd.decayedParameters()));
            }
        }
    }

    /**
     * With zero gradients, a decayed parameter becomes p - lr * (wd * p) (each
     * product rounded to float, as PyTorch does it) and an excluded one stays.
     */
    @Test
    void excludedParametersTakeNoDecay() {
        try (Sequential model = Models.discussion04(false, 2)) {
            Predicate<String> decayed = ParameterFilters.excludingBiasesAndNormalization(model);
            Map<String, float[]> before = values(model);
            model.parameters().forEach(Parameter::grad);
            try (SGD sgd = new SGD(model, 0.1f, 0f, 0f, 0.5f, false, decayed)) {
                sgd.step();
            }
            model.namedParameters().forEach((name, p) -> {
                float[] expected = before.get(name).clone();
                if (decayed.test(name)) {
                    for (int i = 0; i < expected.length; i++) {
                        expected[i] = expected[i] - 0.1f * (0f + 0.5f * expected[i]);
                    }
                }
                Tolerance.assertBitIdentical("decay of " + name, expected, p.data().toFloatArray());
            });
        }
    }

    /** As PyTorch skips a parameter whose grad is None, a parameter without gradient is left alone. */
    @Test
    void parametersWithoutGradientAreSkipped() {
        try (Linear model = new Linear(3, 2, true, 4)) {
            SGD sgd = new SGD(model, 0.1f, 0.9f, 0f, 0.5f, false, ParameterFilters.all());
            float[] bias = model.bias().data().toFloatArray();
            model.weight().grad().fill(1f);
            sgd.step();
            Tolerance.assertBitIdentical("bias without gradient", bias, model.bias().data().toFloatArray());
            assertNull(sgd.momentumBuffer("bias"));
            assertFalse(model.bias().hasGrad());
            Tensor buffer = sgd.momentumBuffer("weight");
            assertTrue(buffer != null && !buffer.isClosed());
            sgd.zeroGrad();
            assertEquals(0f, model.weight().grad().get(1, 2));
            sgd.close();
            sgd.close();
            assertTrue(buffer.isClosed(), "close frees the momentum buffers");
            assertThrows(IllegalStateException.class, sgd::step);
        }
    }

    /** The worksheet's penalty, lambda * sum of squares, over all parameters or the filtered ones. */
    @Test
    void penaltyValue() {
        try (Sequential model = randomModel(5)) {
            double lambda = 0.0125;
            Predicate<String> weights = ParameterFilters.excludingBiasesAndNormalization(model);
            for (Predicate<String> filter : List.of(ParameterFilters.all(), weights)) {
                List<float[]> covered = model.namedParameters().entrySet().stream()
                        .filter(e -> filter.test(e.getKey())).map(e -> e.getValue().data().toFloatArray()).toList();
                PENALTY.assertClose("L2 penalty value", new double[] {L2Reference.penalty(lambda, covered)},
                        new double[] {new L2Penalty(lambda, filter).value(model)});
            }
        }
    }

    /** The gradient 2 lambda theta is added to each covered parameter's gradient and to nothing else. */
    @Test
    void penaltyGradient() {
        try (Sequential model = randomModel(6)) {
            float lambda = 0.0125f;
            Predicate<String> weights = ParameterFilters.excludingBiasesAndNormalization(model);
            model.namedParameters().forEach((name, p) -> p.grad().fill(0.25f));
            new L2Penalty(lambda, weights).addGradient(model);
            model.namedParameters().forEach((name, p) -> {
                float[] theta = p.data().toFloatArray();
                float[] expected = new float[theta.length];
                for (int i = 0; i < theta.length; i++) {
                    expected[i] = weights.test(name) ? 0.25f + 2 * lambda * theta[i] : 0.25f;
                }
                Tolerance.assertBitIdentical("L2 gradient of " + name, expected, p.grad().toFloatArray());
            });
        }
    }

    /**
     * weight_decay = 2 * lambda in SGD and the explicit penalty's gradient
     * give the same parameters, bit for bit, over several momentum steps.
     */
    @ParameterizedTest(name = "only weights = {0}")
    @ValueSource(booleans = {true, false})
    void weightDecayEqualsTwiceLambda(boolean onlyWeights) {
        double lambda = 0.02;
        try (Sequential explicit = randomModel(7); Sequential decayed = randomModel(7);
                CrossEntropyLoss loss = new CrossEntropyLoss();
                Tensor x = Tensor.of(TestData.normal(8, 8 * 6, 0, 1), 8, 6);
                Tensor labels = Tensor.ofLongs(new long[] {0, 1, 2, 3, 0, 1, 2, 3}, 8)) {
            Predicate<String> filter = onlyWeights ? ParameterFilters.excludingBiasesAndNormalization(explicit)
                    : ParameterFilters.all();
            L2Penalty penalty = new L2Penalty(lambda, filter);
            assertEquals(0.04f, penalty.equivalentWeightDecay());
            try (SGD a = new SGD(explicit, 0.1f, 0.9f, 0f, 0f, false, filter);
                    SGD b = new SGD(decayed, 0.1f, 0.9f, 0f, penalty.equivalentWeightDecay(), false, filter)) {
                for (int step = 0; step < 3; step++) {
                    gradientStep(explicit, loss, x, labels);
                    penalty.addGradient(explicit);
                    a.step();
                    gradientStep(decayed, loss, x, labels);
                    b.step();
                }
            }
            SequencedMap<String, Parameter> other = decayed.namedParameters();
            explicit.namedParameters().forEach((name, p) -> Tolerance.assertBitIdentical("2 lambda = wd: " + name,
                    other.get(name).data().toFloatArray(), p.data().toFloatArray()));
        }
    }

    @Test
    void penaltyValidates() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> new L2Penalty(-1, ParameterFilters.all())),
                "lambda", "-1.0");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> new L2Penalty(Double.NaN,
                ParameterFilters.all())), "lambda", "NaN");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> new L2Penalty(1, null)), "appliesTo");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> new L2Penalty(1, ParameterFilters.all())
                .value(null)), "model");
    }

    private static void assertSequence(float lr, float momentum, float dampening, float weightDecay, boolean nesterov,
            double[][] params, double[][] buffers) {
        try (Linear model = new Linear(3, 1, false, 1)) {
            model.weight().data().copyFrom(P0);
            model.weight().grad().copyFrom(G);
            try (SGD sgd = new SGD(model, lr, momentum, dampening, weightDecay, nesterov, ParameterFilters.all())) {
                for (int step = 0; step < params.length; step++) {
                    sgd.step();
                    STEP.assertClose("SGD parameter after step " + (step + 1), params[step],
                            model.weight().data().toFloatArray());
                    if (buffers == null) {
                        assertNull(sgd.momentumBuffer("weight"));
                    } else {
                        STEP.assertClose("SGD momentum buffer after step " + (step + 1), buffers[step],
                                sgd.momentumBuffer("weight").toFloatArray());
                    }
                }
            }
        }
    }

    /** Zeroes the gradients, then one forward and backward of the mean cross-entropy. */
    static void gradientStep(Module model, CrossEntropyLoss loss, Tensor x, Tensor labels) {
        model.zeroGrad();
        try (Tensor logits = model.forward(x)) {
            loss.forward(logits, labels);
        }
        try (Tensor dlogits = loss.backward()) {
            model.backward(dlogits).close();
        }
    }

    private static Sequential randomModel(long seed) {
        return ModuleBackwardTest.randomized(new Sequential(new FusedLinearLayerNormReLU(6, 8, seed),
                new Linear(8, 5, true, seed + 2), new LayerNorm(5), new ReLU(), new Linear(5, 4, true, seed + 4)),
                seed);
    }

    private static Map<String, float[]> values(Module model) {
        Map<String, float[]> values = new LinkedHashMap<>();
        model.namedParameters().forEach((name, p) -> values.put(name, p.data().toFloatArray()));
        return values;
    }
}
