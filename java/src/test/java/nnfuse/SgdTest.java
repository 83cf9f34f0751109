package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.bindings.nnfuse_h;
import nnfuse.reference.SgdReference;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SGD steps: native against the float transcription of torch.optim.SGD's
 * algorithm over several steps for every combination of momentum, dampening,
 * Nesterov and weight decay, closed forms (constant gradient with momentum,
 * pure weight decay), weight decay against the explicit L2 penalty's gradient,
 * determinism, and bad input.
 *
 * <p>Tolerances: none against the reference. Every step is a fixed sequence of
 * float operations, each rounded once, in PyTorch's order; both sides perform
 * exactly that sequence (no FMA: the build turns contraction off and Java
 * never fuses), so parameters and buffers are compared bit for bit after every
 * step, and so are weight decay {@code 2 * lambda} and the accumulated L2
 * gradient. The closed forms are exact in double while the kernel rounds at
 * most four times per step, each time by at most 2^-24 of a value that stays
 * within 1.5 times the final parameter (no parameter crosses zero): over
 * T = 20 steps that is at most 20 * 4 * 1.5 * 2^-24 = 7.2e-6 relative, so rtol 1e-5.
 */
class SgdTest {
    private static final Tolerance CLOSED_FORM = Tolerance.of(0, 1e-5);
    private static final int STEPS = 5;

    /** {lr, momentum, dampening, weightDecay, nesterov}. */
    static Stream<Arguments> configurations() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int n : TestData.AWKWARD_SIZES) {
            b.add(Arguments.of(n, 0.1f, 0f, 0f, 0f, false));
            b.add(Arguments.of(n, 0.05f, 0f, 0f, 1e-2f, false));
            b.add(Arguments.of(n, 0.01f, 0.9f, 0f, 0f, false));
            b.add(Arguments.of(n, 0.01f, 0.9f, 0.1f, 5e-4f, false));
            b.add(Arguments.of(n, 0.03f, 0.5f, 0.5f, 0f, false));
            b.add(Arguments.of(n, 0.01f, 0.9f, 0f, 1e-2f, true));
            b.add(Arguments.of(n, 0.2f, 0.99f, 0f, 0f, true));
        }
        return b.build();
    }

    @ParameterizedTest(name = "n {0}, lr {1}, momentum {2}, dampening {3}, weight decay {4}, nesterov {5}")
    @MethodSource("configurations")
    void matchesFloatReferenceOverSteps(int n, float lr, float momentum, float dampening, float weightDecay,
            boolean nesterov) {
        float[] param = TestData.normal(7L * n, n, 0, 1);
        float[] buffer = new float[n];
        String what = String.format(java.util.Locale.ROOT, " [n %d lr %s m %s d %s wd %s nesterov %b]", n, lr,
                momentum, dampening, weightDecay, nesterov);
        try (Tensor p = Tensor.of(param, n); Tensor buf = Tensor.zeros(n); Tensor g = Tensor.zeros(n)) {
            for (int step = 0; step < STEPS; step++) {
                float[] grad = TestData.normal(31L * n + step, n, 0, 2);
                g.copyFrom(grad);
                SgdReference.step(param, buffer, grad, lr, momentum, dampening, weightDecay, nesterov, step == 0);
                SgdOps.step(p, buf, g, lr, momentum, dampening, weightDecay, nesterov, step == 0);
                Tolerance.assertBitIdentical("sgd param step " + step + what, param, p.toFloatArray());
                Tolerance.assertBitIdentical("sgd momentum buffer step " + step + what, buffer, buf.toFloatArray());
            }
        }
    }

    /**
     * A constant gradient g with momentum m and no dampening: the buffer after
     * step t is g (1 - m^t) / (1 - m), so after T steps
     * param = p0 - lr g sum_{t=1..T} (1 - m^t) / (1 - m); with Nesterov each step
     * uses g + m * buf_t instead. Exact in double.
     */
    @Test
    void constantGradientWithMomentumClosedForm() {
        int steps = 20;
        float lr = 0.05f;
        float m = 0.9f;
        float[] p0 = {10, -20, 30, 5};
        float[] grad = {0.25f, -1, 0.5f, 0.125f};
        for (boolean nesterov : new boolean[] {false, true}) {
            double sum = 0;
            for (int t = 1; t <= steps; t++) {
                double buf = (1 - Math.pow(m, t)) / (1 - (double) m);
                sum += nesterov ? 1 + m * buf : buf;
            }
            double[] expected = new double[p0.length];
            for (int i = 0; i < p0.length; i++) {
                expected[i] = p0[i] - (double) lr * grad[i] * sum;
            }
            try (Tensor p = Tensor.of(p0, 4); Tensor buf = Tensor.zeros(4); Tensor g = Tensor.of(grad, 4)) {
                for (int t = 0; t < steps; t++) {
                    SgdOps.step(p, buf, g, lr, m, 0f, 0f, nesterov, t == 0);
                }
                CLOSED_FORM.assertClose("sgd momentum closed form nesterov " + nesterov, expected, p.toFloatArray());
            }
        }
    }

    /**
     * Discussion 04, section 5(a): with a large lambda the penalty dominates and
     * drives theta to 0. With a zero data gradient, weight decay 2 * lambda gives
     * theta_T = (1 - 2 lambda lr)^T theta_0, here a factor 0.8 per step.
     */
    @Test
    void weightDecayAloneShrinksGeometrically() {
        int steps = 20;
        float lambda = 1f;
        float lr = 0.1f;
        float[] theta0 = {4, -8, 0.5f, 1000};
        double factor = Math.pow(1 - 2 * (double) lambda * lr, steps);
        double[] expected = new double[theta0.length];
        for (int i = 0; i < theta0.length; i++) {
            expected[i] = factor * theta0[i];
        }
        try (Tensor theta = Tensor.of(theta0, 4); Tensor zero = Tensor.zeros(4)) {
            for (int t = 0; t < steps; t++) {
                SgdOps.step(theta, null, zero, lr, 0f, 0f, 2 * lambda, false, t == 0);
            }
            CLOSED_FORM.assertClose("sgd weight decay closed form", expected, theta.toFloatArray());
        }
    }

    /**
     * weight_decay = 2 * lambda is the explicit penalty lambda * ||theta||^2:
     * accumulating L2Ops.backward into the gradient and stepping without weight
     * decay gives the same bits, step after step, with and without momentum.
     * Exact, not merely within an ulp: 2 * lambda is exact in float, and both
     * paths compute fl(grad + fl(2 lambda * theta)) before anything else.
     */
    @Test
    void weightDecayEqualsTheL2PenaltyGradient() {
        int n = 4097;
        float lambda = 5e-3f;
        for (float momentum : new float[] {0f, 0.9f}) {
            try (Tensor viaDecay = Tensor.of(TestData.normal(61, n, 0, 1), n);
                    Tensor viaPenalty = Tensor.of(TestData.normal(61, n, 0, 1), n);
                    Tensor bufDecay = Tensor.zeros(n);
                    Tensor bufPenalty = Tensor.zeros(n);
                    Tensor grad = Tensor.zeros(n);
                    Tensor penalized = Tensor.zeros(n)) {
                for (int step = 0; step < STEPS; step++) {
                    grad.copyFrom(TestData.normal(62 + step, n, 0, 1));
                    penalized.copyFrom(grad);
                    L2Ops.backward(penalized, viaPenalty, lambda, true);
                    SgdOps.step(viaDecay, bufDecay, grad, 0.1f, momentum, 0f, 2 * lambda, false, step == 0);
                    SgdOps.step(viaPenalty, bufPenalty, penalized, 0.1f, momentum, 0f, 0f, false, step == 0);
                    Tolerance.assertBitIdentical("sgd weight decay vs L2 gradient [momentum " + momentum + "]",
                            viaDecay.toFloatArray(), viaPenalty.toFloatArray());
                }
            }
        }
    }

    /** With momentum 0 the buffer may be null, and a buffer passed anyway is left alone. */
    @Test
    void plainSgdIgnoresTheBuffer() {
        float[] param = {1, 2, 3};
        float[] grad = {0.5f, -0.25f, 4};
        float[] stale = {7, 8, 9};
        try (Tensor p = Tensor.of(param, 3); Tensor g = Tensor.of(grad, 3); Tensor buf = Tensor.of(stale, 3)) {
            SgdOps.step(p, buf, g, 0.5f, 0f, 0f, 0f, false, false);
            Tolerance.assertBitIdentical("sgd plain param", new float[] {0.75f, 2.125f, 1}, p.toFloatArray());
            Tolerance.assertBitIdentical("sgd plain buffer untouched", stale, buf.toFloatArray());
            SgdOps.step(p, null, g, 0.5f, 0f, 0f, 0f, false, false);
            Tolerance.assertBitIdentical("sgd plain param, no buffer", new float[] {0.5f, 2.25f, -1}, p.toFloatArray());
        }
    }

    @Test
    void deterministicAcrossThreadCounts() {
        int n = 1_000_003;
        float[] param = TestData.normal(71, n, 0, 1);
        float[] buffer = TestData.normal(72, n, 0, 1);
        try (Tensor g = Tensor.of(TestData.normal(73, n, 0, 1), n)) {
            List<float[]> runs = Threads.atEachCount(() -> {
                try (Tensor p = Tensor.of(param, n); Tensor buf = Tensor.of(buffer, n)) {
                    SgdOps.step(p, buf, g, 0.01f, 0.9f, 0f, 1e-4f, true, false);
                    return p.toFloatArray();
                }
            });
            float[] expected = param.clone();
            SgdReference.step(expected, buffer.clone(), TestData.normal(73, n, 0, 1), 0.01f, 0.9f, 0f, 1e-4f, true,
                    false);
            for (int i = 0; i < runs.size(); i++) {
                Tolerance.assertBitIdentical("sgd threads " + Threads.COUNTS[i], expected, runs.get(i));
            }
        }
    }

    @Test
    void badHyperparameters() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor p = Tensor.zeros(arena, 3, 4);
            Tensor g = Tensor.zeros(arena, 3, 4);
            Tensor buf = Tensor.zeros(arena, 3, 4);
            for (float bad : new float[] {-0.1f, Float.NaN, Float.POSITIVE_INFINITY}) {
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> SgdOps.step(p, buf, g, bad, 0.9f, 0f, 0f, false, true)), "sgdStep",
                        "Invalid learning rate: " + bad, "lr");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> SgdOps.step(p, buf, g, 0.1f, bad, 0f, 0f, false, true)),
                        "Invalid momentum value: " + bad, "momentum");
                assertMessage(assertThrows(IllegalArgumentException.class,
                        () -> SgdOps.step(p, buf, g, 0.1f, 0.9f, 0f, bad, false, true)),
                        "Invalid weight_decay value: " + bad, "weightDecay");
            }
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, buf, g, 0.1f, 0.9f, Float.NaN, 0f, false, true)), "dampening", "NaN");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, buf, g, 0.1f, 0f, 0f, 0f, true, true)),
                    "Nesterov momentum requires a momentum and zero dampening", "momentum 0.0");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, buf, g, 0.1f, 0.9f, 0.1f, 0f, true, true)),
                    "Nesterov momentum requires a momentum and zero dampening", "dampening 0.1");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, null, g, 0.1f, 0.9f, 0f, 0f, false, true)),
                    "sgdStep", "momentumBuffer", "null", "0.9", "float32[3, 4]");
        }
    }

    @Test
    void badTensors() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor p = Tensor.zeros(arena, 3, 4);
            Tensor g = Tensor.zeros(arena, 3, 4);
            Tensor buf = Tensor.zeros(arena, 3, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, buf, Tensor.zeros(arena, 4, 3), 0.1f, 0.9f, 0f, 0f, false, true)),
                    "sgdStep", "grad", "[3, 4]", "[4, 3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, Tensor.zeros(arena, 12), g, 0.1f, 0.9f, 0f, 0f, false, true)),
                    "momentumBuffer", "[3, 4]", "[12]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(null, buf, g, 0.1f, 0.9f, 0f, 0f, false, true)), "param", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, buf, null, 0.1f, 0.9f, 0f, 0f, false, true)), "grad", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, buf, p, 0.1f, 0.9f, 0f, 0f, false, true)), "param", "grad", "same tensor");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(p, g, g, 0.1f, 0.9f, 0f, 0f, false, true)), "momentumBuffer", "grad",
                    "same tensor");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> SgdOps.step(Tensor.zeros(arena, DType.INT64, 3, 4), buf, g, 0.1f, 0.9f, 0f, 0f, false,
                            true)), "param", "float32", "int64[3, 4]");
            Tensor closed = Tensor.zeros(3, 4);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> SgdOps.step(p, closed, g, 0.1f, 0.9f, 0f, 0f, false, true)), "momentumBuffer", "closed");
        }
    }

    /** nf_sgd_step_f32 and, in its shape, nf_cuda_sgd_step_f32 on device 0. */
    private interface Step {
        int call(MemorySegment param, MemorySegment momentumBuffer, MemorySegment grad, long n, float lr,
                float momentum, float dampening, float weightDecay, int nesterov, int firstStep);
    }

    /**
     * The C entry point validates on its own, for callers other than the Java API; the CUDA one, where the
     * library has it, makes the same checks with the same messages before it touches a device.
     */
    @ParameterizedTest(name = "cuda {0}")
    @ValueSource(booleans = {false, true})
    void nativeChecksReturnAStatus(boolean cuda) {
        NativeLibrary.ensureLoaded();
        assumeTrue(!cuda || nnfuse_h.nf_cuda_built() == 1, "the library has no CUDA backend");
        String op = cuda ? "nf_cuda_sgd_step_f32" : "nf_sgd_step_f32";
        Step step = cuda
                ? (p, b, g, n, lr, m, d, wd, nesterov, first) ->
                        nnfuse_h.nf_cuda_sgd_step_f32(p, b, g, n, lr, m, d, wd, nesterov, first, 0)
                : nnfuse_h::nf_sgd_step_f32;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
            MemorySegment b = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
            MemorySegment g = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
            MemorySegment none = MemorySegment.NULL;
            assertNative(op + ": Invalid learning rate: -1 (lr must be finite and >= 0)",
                    step.call(p, b, g, 8, -1f, 0.9f, 0f, 0f, 0, 1));
            assertNative(op + ": Invalid learning rate: nan (lr must be finite and >= 0)",
                    step.call(p, b, g, 8, Float.NaN, 0.9f, 0f, 0f, 0, 1));
            assertNative(op + ": Invalid momentum value: -0.5 (momentum must be finite and >= 0)",
                    step.call(p, b, g, 8, 0.1f, -0.5f, 0f, 0f, 0, 1));
            assertNative(op + ": Invalid weight_decay value: -1 (weight_decay must be finite and >= 0)",
                    step.call(p, b, g, 8, 0.1f, 0.9f, 0f, -1f, 0, 1));
            assertNative(op + ": dampening must be finite, got inf",
                    step.call(p, b, g, 8, 0.1f, 0.9f, Float.POSITIVE_INFINITY, 0f, 0, 1));
            assertNative(op + ": Nesterov momentum requires a momentum and zero dampening, got momentum 0.9 "
                    + "and dampening 0.5", step.call(p, b, g, 8, 0.1f, 0.9f, 0.5f, 0f, 1, 1));
            assertNative(op + ": nesterov must be 0 or 1, got 2", step.call(p, b, g, 8, 0.1f, 0.9f, 0f, 0f, 2, 1));
            assertNative(op + ": first_step must be 0 or 1, got -1", step.call(p, b, g, 8, 0.1f, 0.9f, 0f, 0f, 0, -1));
            assertNative(op + ": momentum_buffer is NULL but momentum is 0.9",
                    step.call(p, none, g, 8, 0.1f, 0.9f, 0f, 0f, 0, 1));
            assertNative(op + ": param overlaps grad", step.call(p, b, p.asSlice(4), 4, 0.1f, 0.9f, 0f, 0f, 0, 1));
            assertNative(op + ": momentum_buffer overlaps grad", step.call(p, b, b, 8, 0.1f, 0.9f, 0f, 0f, 0, 1));
            assertNative(op + ": grad is NULL", step.call(p, b, none, 8, 0.1f, 0.9f, 0f, 0f, 0, 1));
        }
    }

    private static void assertNative(String message, int status) {
        assertEquals(nnfuse_h.NF_ERR_INVALID_ARGUMENT(), status);
        assertEquals(message, nnfuse_h.nf_last_error().getString(0));
    }
}
