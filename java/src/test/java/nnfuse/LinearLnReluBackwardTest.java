package nnfuse;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import nnfuse.reference.LayerNormReference;
import nnfuse.reference.LinearLnReluReference;
import nnfuse.testing.AtEachCpuLevel;
import nnfuse.testing.CpuLevels;
import nnfuse.testing.FiniteDifferences;
import nnfuse.testing.TestData;
import nnfuse.testing.Threads;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fused Linear + LayerNorm + ReLU backward: the reference against finite differences; native against the
 * double reference and against the unfused chain of native backward ops, on the worksheet model's blocks and
 * awkward shapes; accumulation, optional gradients, threads and bad input, at each CPU level this machine
 * supports ({@link CpuLevels}). (The forward's tests are in {@link LinearLnReluTest}.)
 *
 * <p>Tolerances. Native and reference get the same float dy, x, W, gamma and beta and the native forward's
 * h, mean and rstd. The ReLU's mask is a comparison, so where the LayerNorm output lies within {@link #KINK}
 * of 0, dy is set to 0: the kernel recomputes that output from floats, a few float roundings (below 1e-5 for
 * this data) from the reference's double value, so elsewhere both take the same side, and at those units
 * both pass 0 whichever side they take. What remains is LayerNorm's backward on the masked dy, with
 * {@link LayerNormTest}'s tolerances for dgamma, dbeta and {@code dh} (the saved float mean given to the
 * reference), and then Linear's on {@code dh}, with {@link LinearTest}'s tolerances for products whose first
 * factor {@code dh} is off by up to {@code LayerNormTest}'s bound for dx. Against the unfused chain the
 * comparison is bit-for-bit: the fused op recomputes the forward's LayerNorm output bit for bit (so its mask
 * is the forward's) and then runs the same native routines in the same order, so any difference is a bug. The
 * reference backward itself is checked against central finite differences of the double reference forward
 * with {@link FiniteDifferences#SCALED_TOLERANCE}, on data whose LayerNorm outputs all lie at least 1e-3 from the
 * kink, where the ReLU is linear within the step.
 */
class LinearLnReluBackwardTest extends AtEachCpuLevel {
    private static final float EPS = LayerNormOps.DEFAULT_EPS;
    /** Unit roundoff of float32. */
    private static final double U = 0x1p-24;
    /** dy is zeroed where the LayerNorm output lies closer than this to the ReLU's kink. */
    private static final double KINK = 1e-4;
    /** The gradients in the order {@link Case#fused} and {@link Case#unfused} return them. */
    private static final String[] GRADIENTS = {"dx", "dweight", "dbias", "dgamma", "dbeta"};

    /**
     * The reference backward against central differences of {@code sum(dy * y)} in x, W, b, gamma and beta,
     * with and without the ReLU. Data are drawn again (the next seed) until every LayerNorm output lies at
     * least 1e-3 from the kink.
     */
    @Test
    void referenceBackwardMatchesFiniteDifferences() {
        int[][] shapes = TestData.smallShapes(31, 8);
        for (int i = 0; i < shapes.length; i++) {
            int rows = shapes[i][0];
            int in = shapes[i][1];
            int out = shapes[i][2];
            boolean relu = i % 2 == 0;
            long seed = 1000L * i;
            double[][] p = smallData(seed, rows, in, out);
            while (relu && kinkDistance(p, rows, in, out) < 1e-3) {
                p = smallData(++seed, rows, in, out);
            }
            float[] dy = TestData.normal(seed + 5, rows * out, 0, 1);
            double[][] data = p;
            LinearLnReluReference.Forward fwd = smallForward(data, rows, in, out, relu);
            LinearLnReluReference.Gradients g = LinearLnReluReference.backward(TestData.widen(dy), data[0], data[1],
                    fwd.h(), fwd.mean(), fwd.rstd(), data[3], data[4], rows, in, out, relu);
            double[][] grads = {g.dx(), g.dw(), g.db(), g.dgamma(), g.dbeta()};
            for (int k = 0; k < GRADIENTS.length; k++) {
                int param = k;
                double[] fd = FiniteDifferences.gradientScaled(v -> {
                    double[][] moved = data.clone();
                    moved[param] = v;
                    return FiniteDifferences.dot(dy, smallForward(moved, rows, in, out, relu).y());
                }, data[k]);
                FiniteDifferences.SCALED_TOLERANCE.assertClose("linearLnRelu ref vs finite diff " + GRADIENTS[k], fd,
                        grads[k]);
            }
        }
    }

    @ParameterizedTest(name = "[{0}, {1}] -> {2}, relu {3}")
    @MethodSource("nnfuse.LinearLnReluTest#worksheetBlocks")
    void worksheetBlocksMatchReferenceAndUnfusedChain(int rows, int in, int out, boolean relu) {
        compare(new Case(rows, in, out, true, relu));
    }

    @ParameterizedTest(name = "[{0}, {1}] -> {2}, relu {3}")
    @MethodSource("nnfuse.LinearLnReluTest#shapes")
    void matchesReferenceAndUnfusedChain(int rows, int in, int out, boolean relu) {
        compare(new Case(rows, in, out, true, relu));
    }

    @Test
    void withoutGammaOrBeta() {
        compare(new Case(7, 33, 129, false, true));
        compare(new Case(7, 33, 129, false, false));
    }

    /**
     * accumulate = true adds the new gradient to what the parameter gradients hold, as PyTorch's
     * {@code .grad +=}: the result is the float sum of the old values and of the gradient that accumulate =
     * false writes, bit for bit, while dx, an activation's gradient, is overwritten either way.
     */
    @Test
    void accumulateAddsToTheParameterGradients() {
        Case c = new Case(33, 129, 31, true, true);
        float[][] fresh = c.fused(null, false);
        float[][] old = new float[GRADIENTS.length][];
        for (int k = 0; k < old.length; k++) {
            old[k] = TestData.normal(k, fresh[k].length, 0, 1);
        }
        float[][] accumulated = c.fused(old, true);
        Tolerance.assertBitIdentical("linearLnRelu backward accumulate dx", fresh[0], accumulated[0]);
        for (int k = 1; k < GRADIENTS.length; k++) {
            Tolerance.assertBitIdentical("linearLnRelu backward accumulate " + GRADIENTS[k],
                    LinearTest.floatSum(old[k], fresh[k]), accumulated[k]);
        }
        Tolerance.assertBitIdentical("linearLnRelu backward accumulate vs unfused", c.unfused(old, true)[1],
                accumulated[1]);
    }

    /** Each gradient alone (the others null) has the bits it has when all five are computed. */
    @Test
    void optionalGradients() {
        Case c = new Case(33, 129, 31, true, true);
        float[][] all = c.fused(null, false);
        for (int k = 0; k < GRADIENTS.length; k++) {
            Tensor[] grads = new Tensor[GRADIENTS.length];
            grads[k] = Tensor.zeros(c.gradientShape(k));
            try (Tensor only = grads[k]; Saved s = c.saved()) {
                LinearLnReluOps.backward(grads[0], grads[1], grads[2], grads[3], grads[4], s.dy, s.x, s.w, s.h, s.mean,
                        s.rstd, s.gamma, s.beta, true, false);
                Tolerance.assertBitIdentical("linearLnRelu backward " + GRADIENTS[k] + " alone", all[k],
                        only.toFloatArray());
            }
        }
        try (Saved s = c.saved()) {
            LinearLnReluOps.backward(null, null, null, null, null, s.dy, s.x, s.w, s.h, s.mean, s.rstd, s.gamma,
                    s.beta, true, false);
        }
    }

    @Test
    void higherRankFlattensTheLeadingDimensions() {
        Case c = new Case(6, 5, 4, true, true);
        float[][] flat = c.fused(null, false);
        try (Saved s = c.saved(); Tensor x = Tensor.of(c.x, 2, 3, 5); Tensor dy = Tensor.of(c.dy, 2, 3, 4);
                Tensor h = Tensor.of(c.h, 2, 3, 4); Tensor dx = Tensor.zeros(2, 3, 5); Tensor dw = Tensor.zeros(4, 5);
                Tensor db = Tensor.zeros(4); Tensor dg = Tensor.zeros(4); Tensor dbe = Tensor.zeros(4)) {
            LinearLnReluOps.backward(dx, dw, db, dg, dbe, dy, x, s.w, h, s.mean, s.rstd, s.gamma, s.beta, true, false);
            Tensor[] grads = {dx, dw, db, dg, dbe};
            for (int k = 0; k < GRADIENTS.length; k++) {
                Tolerance.assertBitIdentical("linearLnRelu backward rank-3 " + GRADIENTS[k], flat[k],
                        grads[k].toFloatArray());
            }
        }
    }

    @Test
    void sameResultWithOneTwoAndFourThreads() {
        for (Case c : List.of(new Case(257, 300, 129, true, true), new Case(300, 64, 1031, true, false))) {
            Threads.assertSameAtEachCount("linearLnRelu backward", GRADIENTS, () -> c.fused(null, false));
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = Tensor.zeros(arena, 4, 52);
            Tensor w = Tensor.zeros(arena, 128, 52);
            Tensor dy = Tensor.zeros(arena, 4, 128);
            Tensor h = Tensor.zeros(arena, 4, 128);
            Tensor v4 = Tensor.zeros(arena, 4);
            Tensor rstd = Tensor.zeros(arena, 4);
            Tensor v128 = Tensor.zeros(arena, 128);
            Tensor v52 = Tensor.zeros(arena, 52);
            Tensor dw = Tensor.zeros(arena, 128, 52);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, Tensor.zeros(arena, 4, 52), x, w, h, v4, rstd, null, null)),
                    "linearLnReluBackward", "dy", "[4, 128]", "[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, w, Tensor.zeros(arena, 128, 4), v4, rstd, null, null)),
                    "h", "[4, 128]", "[128, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, w, h, v128, rstd, null, null)),
                    "mean", "[4]", "[128]", "[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, w, h, v4, v52, null, null)), "rstd", "[4]", "[52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, w, h, v4, rstd, v52, null)),
                    "gamma", "[128]", "[52]", "[128, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, w, h, v4, rstd, null, v52)), "beta", "[128]", "[52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(Tensor.zeros(arena, 4, 128), dw, null, null, dy, x, w, h, v4, rstd, null, null)),
                    "dx", "[4, 52]", "[4, 128]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, Tensor.zeros(arena, 52, 128), null, null, dy, x, w, h, v4, rstd, null, null)),
                    "dweight", "[128, 52]", "[52, 128]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, v52, null, dy, x, w, h, v4, rstd, null, null)), "dbias", "[128]", "[52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, v52, dy, x, w, h, v4, rstd, null, null)), "dgamma", "[128]", "[52]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> LinearLnReluOps.backward(null, dw, null,
                    null, v52, dy, x, w, h, v4, rstd, null, null, true, false)), "dbeta", "[128]", "[52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, Tensor.zeros(arena, 128, 4), h, v4, rstd, null, null)),
                    "weight", "[out_features, 52]", "[128, 4]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, w, null, v4, rstd, null, null)), "h", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, w, h, null, rstd, null, null)), "mean", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, null, x, w, h, v4, rstd, null, null)), "dy", "null");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(x, dw, null, null, dy, x, w, h, v4, rstd, null, null)),
                    "dx", "x", "same tensor", "[4, 52]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, v128, v128, dy, x, w, h, v4, rstd, null, null)),
                    "dbias", "dgamma", "same tensor", "[128]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, v128, dy, x, w, h, v4, rstd, v128, null)),
                    "dgamma", "gamma", "same tensor");
            Tensor intMean = Tensor.zeros(arena, DType.INT64, 4);
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> backward(null, dw, null, null, dy, x, w, h, intMean, rstd, null, null)),
                    "mean", "float32", "int64[4]");
            Tensor closed = Tensor.zeros(4, 128);
            closed.close();
            assertMessage(assertThrows(IllegalStateException.class,
                    () -> backward(null, dw, null, null, dy, x, w, closed, v4, rstd, null, null)), "h", "closed");
        }
    }

    /** The op with dbeta null, relu and no accumulation: the arguments the bad-input cases vary. */
    private static void backward(Tensor dx, Tensor dw, Tensor db, Tensor dgamma, Tensor dy, Tensor x, Tensor w,
            Tensor h, Tensor mean, Tensor rstd, Tensor gamma, Tensor beta) {
        LinearLnReluOps.backward(dx, dw, db, dgamma, null, dy, x, w, h, mean, rstd, gamma, beta, true, false);
    }

    /** x, W, b, gamma and beta for a finite-difference check, in double. */
    private static double[][] smallData(long seed, int rows, int in, int out) {
        return new double[][] {TestData.widen(TestData.normal(seed, rows * in, 0, 1)),
            TestData.widen(TestData.normal(seed + 1, out * in, 0, 1)),
            TestData.widen(TestData.normal(seed + 2, out, 0, 1)),
            TestData.widen(TestData.normal(seed + 3, out, 1, 0.5)),
            TestData.widen(TestData.normal(seed + 4, out, 0, 0.5))};
    }

    /** The reference forward on {@link #smallData}. */
    private static LinearLnReluReference.Forward smallForward(double[][] p, int rows, int in, int out, boolean relu) {
        return LinearLnReluReference.forward(p[0], p[1], p[2], p[3], p[4], rows, in, out, EPS, relu);
    }

    /** The smallest |LayerNorm output| of the block on {@link #smallData}. */
    private static double kinkDistance(double[][] p, int rows, int in, int out) {
        double[] h = LinearLnReluReference.forward(p[0], p[1], p[2], null, null, rows, in, out, EPS, false).h();
        double[] y = LayerNormReference.forward(h, p[3], p[4], rows, out, EPS).y();
        return Arrays.stream(y).map(Math::abs).min().orElseThrow();
    }

    private static void compare(Case c) {
        double[] dy = TestData.widen(c.dy);
        double[] x = TestData.widen(c.x);
        double[] w = TestData.widen(c.w);
        double[] h = TestData.widen(c.h);
        double[] mean = TestData.widen(c.mean);
        double[] rstd = TestData.widen(c.rstd);
        double[] gamma = TestData.widen(c.gamma);
        double[] beta = TestData.widen(c.beta);
        LinearLnReluReference.Gradients ref = LinearLnReluReference.backward(dy, x, w, h, mean, rstd, gamma, beta,
                c.rows, c.in, c.out, c.relu);

        double[] dyNorm = c.relu ? maskedByReference(c, h, mean, rstd, gamma, beta) : dy;
        double[] dh = LayerNormReference.backward(dyNorm, h, mean, rstd, gamma, c.rows, c.out).dx();
        Tolerance[] ln = LayerNormTest.backwardTolerances(dyNorm, h, mean, rstd, gamma, c.rows, c.out,
                U * Arrays.stream(mean).map(Math::abs).max().orElseThrow());
        double dhError = ln[0].atol() + ln[0].rtol() * Arrays.stream(dh).map(Math::abs).max().orElseThrow();
        Tolerance[] linear = LinearTest.backwardTolerances(dh, x, w, c.rows, c.in, c.out, dhError);
        Tolerance[] tol = {linear[0], linear[1], linear[2], ln[1], ln[2]};

        double[][] expected = {ref.dx(), ref.dw(), ref.db(), ref.dgamma(), ref.dbeta()};
        float[][] fused = c.fused(null, false);
        float[][] unfused = c.unfused(null, false);
        String shape = " [" + c.rows + "x" + c.in + "->" + c.out + "]";
        for (int k = 0; k < GRADIENTS.length; k++) {
            tol[k].assertClose("linearLnRelu backward " + GRADIENTS[k] + shape, expected[k], fused[k]);
            Tolerance.assertBitIdentical("linearLnRelu backward " + GRADIENTS[k] + " vs unfused" + shape, unfused[k],
                    fused[k]);
        }
    }

    /** dy through the reference's ReLU mask, from the LayerNorm output recomputed in double. */
    private static double[] maskedByReference(Case c, double[] h, double[] mean, double[] rstd, double[] gamma,
            double[] beta) {
        double[] masked = new double[h.length];
        for (int i = 0; i < h.length; i++) {
            int j = i % c.out;
            double v = (h[i] - mean[i / c.out]) * rstd[i / c.out];
            v = gamma == null ? v : v * gamma[j];
            v = beta == null ? v : v + beta[j];
            masked[i] = v > 0 ? c.dy[i] : 0;
        }
        return masked;
    }

    /**
     * One block's seeded data, as in {@link LinearLnReluTest}: x ~ N(0, 1), W and b as PyTorch initializes
     * them, gamma ~ N(1, 1/4), beta ~ N(0, 1/4); what the native forward keeps; and dy ~ N(0, 1), zeroed (with
     * the ReLU) where the forward's LayerNorm output lies within {@link #KINK} of 0.
     */
    private static final class Case {
        final int rows;
        final int in;
        final int out;
        final boolean relu;
        final float[] x;
        final float[] w;
        final float[] b;
        final float[] gamma;
        final float[] beta;
        final float[] h;
        final float[] mean;
        final float[] rstd;
        final float[] y;
        final float[] dy;

        Case(int rows, int in, int out, boolean affine, boolean relu) {
            this.rows = rows;
            this.in = in;
            this.out = out;
            this.relu = relu;
            long seed = 3_000_017L * rows + 1019L * in + out;
            x = TestData.normal(seed, rows * in, 0, 1);
            w = LinearTest.init(seed + 1, out * in, in);
            b = LinearTest.init(seed + 2, out, in);
            gamma = affine ? TestData.normal(seed + 3, out, 1, 0.5) : null;
            beta = affine ? TestData.normal(seed + 4, out, 0, 0.5) : null;
            try (Tensor xt = Tensor.of(x, rows, in); Tensor wt = Tensor.of(w, out, in); Tensor bt = Tensor.of(b, out);
                    Tensor g = tensor(gamma, out); Tensor be = tensor(beta, out);
                    Tensor yt = Tensor.zeros(rows, out); Tensor ht = Tensor.zeros(rows, out);
                    Tensor m = Tensor.zeros(rows); Tensor r = Tensor.zeros(rows);
                    Tensor pre = Tensor.zeros(rows, out)) {
                LinearLnReluOps.forward(yt, ht, m, r, xt, wt, bt, g, be, EPS, relu);
                LinearLnReluOps.forward(pre, null, null, null, xt, wt, bt, g, be, EPS, false);
                h = ht.toFloatArray();
                mean = m.toFloatArray();
                rstd = r.toFloatArray();
                y = yt.toFloatArray();
                dy = TestData.normal(seed + 5, rows * out, 0, 1);
                float[] normalized = pre.toFloatArray();
                for (int i = 0; i < dy.length; i++) {
                    dy[i] = relu && Math.abs(normalized[i]) < KINK ? 0 : dy[i];
                }
            }
        }

        long[] gradientShape(int k) {
            return switch (k) {
                case 0 -> new long[] {rows, in};
                case 1 -> new long[] {out, in};
                default -> new long[] {out};
            };
        }

        /** The five gradients of the fused op, starting from {@code initial} (or zeros when null). */
        float[][] fused(float[][] initial, boolean accumulate) {
            try (Saved s = saved(); Gradients g = new Gradients(this, initial)) {
                LinearLnReluOps.backward(g.t[0], g.t[1], g.t[2], g.t[3], g.t[4], s.dy, s.x, s.w, s.h, s.mean, s.rstd,
                        s.gamma, s.beta, relu, accumulate);
                return g.arrays();
            }
        }

        /** The same from ReluOps, LayerNormOps and LinearOps backward in turn. */
        float[][] unfused(float[][] initial, boolean accumulate) {
            try (Saved s = saved(); Gradients g = new Gradients(this, initial); Tensor yt = Tensor.of(y, rows, out);
                    Tensor dyNorm = Tensor.zeros(rows, out); Tensor dh = Tensor.zeros(rows, out)) {
                if (relu) {
                    ReluOps.backward(dyNorm, s.dy, yt);
                } else {
                    dyNorm.copyFrom(s.dy);
                }
                LayerNormOps.backward(dh, g.t[3], g.t[4], dyNorm, s.h, s.mean, s.rstd, s.gamma, accumulate);
                LinearOps.backward(g.t[0], g.t[1], g.t[2], dh, s.x, s.w, accumulate);
                return g.arrays();
            }
        }

        Saved saved() {
            return new Saved(this);
        }

        static Tensor tensor(float[] data, long n) {
            return data == null ? null : Tensor.of(data, n);
        }
    }

    /** The inputs of the backward pass as tensors. */
    private static final class Saved implements AutoCloseable {
        final Tensor dy;
        final Tensor x;
        final Tensor w;
        final Tensor h;
        final Tensor mean;
        final Tensor rstd;
        final Tensor gamma;
        final Tensor beta;

        Saved(Case c) {
            dy = Tensor.of(c.dy, c.rows, c.out);
            x = Tensor.of(c.x, c.rows, c.in);
            w = Tensor.of(c.w, c.out, c.in);
            h = Tensor.of(c.h, c.rows, c.out);
            mean = Tensor.of(c.mean, c.rows);
            rstd = Tensor.of(c.rstd, c.rows);
            gamma = Case.tensor(c.gamma, c.out);
            beta = Case.tensor(c.beta, c.out);
        }

        @Override
        public void close() {
            for (Tensor t : new Tensor[] {dy, x, w, h, mean, rstd, gamma, beta}) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }

    /** The five gradient tensors, holding {@code initial} (or zeros). */
    private static final class Gradients implements AutoCloseable {
        final Tensor[] t = new Tensor[GRADIENTS.length];

        Gradients(Case c, float[][] initial) {
            for (int k = 0; k < t.length; k++) {
                t[k] = initial == null ? Tensor.zeros(c.gradientShape(k)) : Tensor.of(initial[k], c.gradientShape(k));
            }
        }

        float[][] arrays() {
            float[][] a = new float[t.length][];
            for (int k = 0; k < t.length; k++) {
                a[k] = t[k].toFloatArray();
            }
            return a;
        }

        @Override
        public void close() {
            for (Tensor tensor : t) {
                tensor.close();
            }
        }
    }
}
