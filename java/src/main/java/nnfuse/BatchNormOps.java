package nnfuse;

import java.util.Arrays;
import java.util.List;
import nnfuse.internal.NativeLibrary;
import nnfuse.internal.Status;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Batch normalization of {@code x[N, C]} over the batch dimension, as PyTorch's
 * {@code torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)}
 * (what {@code nn.BatchNorm1d} calls on a 2-D input): each column (channel) is
 * normalized, {@code y = (x - mean) / sqrt(var + eps) * gamma + beta}.
 *
 * <p>Training uses the batch's mean and biased variance and moves the running
 * statistics toward them: {@code running = momentum * batch + (1 - momentum) * running},
 * with the unbiased variance {@code var * N / (N - 1)}. PyTorch's
 * {@code momentum=None} (a cumulative average) is {@code momentum = 1 / numBatchesTracked}.
 * Eval uses the running statistics instead. The backward passes give the
 * gradients with respect to x, gamma and beta of either mode.
 *
 * <p>Stateless and thread-safe; a training call writes its running statistics
 * in place, so concurrent calls must not share them. The usual rules of
 * {@link Tensor} apply to the tensors passed in. Results do not depend on the
 * thread count.
 */
public final class BatchNormOps {
    /** PyTorch's default epsilon for {@code nn.BatchNorm1d}. */
    public static final float DEFAULT_EPS = 1e-5f;
    /** PyTorch's default momentum for {@code nn.BatchNorm1d}. */
    public static final float DEFAULT_MOMENTUM = 0.1f;

    private static final String OP = "batchNorm";
    private static final String BACKWARD = "batchNormBackward";

    private BatchNormOps() {}

    /**
     * Normalizes {@code x} with its batch statistics into a new tensor, updating
     * the running statistics if given.
     *
     * @param x           input {@code [N, C]} with {@code N >= 2}
     * @param runningMean running mean {@code [C]}, updated in place, or null (with runningVar) for none
     * @param runningVar  running variance {@code [C]}, updated in place, or null (with runningMean) for none
     * @param gamma       scale {@code [C]}, or null for none
     * @param beta        shift {@code [C]}, or null for none
     * @param eps         added to the variance; finite and >= 0
     * @param momentum    weight of the batch statistics in the running update; in [0, 1]
     */
    public static Tensor forwardTraining(Tensor x, Tensor runningMean, Tensor runningVar, Tensor gamma, Tensor beta,
            float eps, float momentum) {
        Checks.tensor(OP, "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), x.shape()),
                y -> forwardTraining(y, null, null, runningMean, runningVar, x, gamma, beta, eps, momentum));
    }

    /**
     * Normalizes {@code x} with its batch statistics into {@code y}, stores each
     * column's mean and {@code rstd = 1 / sqrt(var + eps)} for the backward pass,
     * and updates the running statistics if given. As in PyTorch, rstd is 0 for a
     * column of zero variance when eps is 0, so that the column's output is beta.
     * {@code y} may be {@code x} itself (in place); the per-channel outputs must be
     * distinct tensors, none of them also gamma or beta.
     *
     * @param y        output, same shape as {@code x}
     * @param saveMean per-column batch means {@code [C]}, or null
     * @param saveRstd per-column reciprocal standard deviations {@code [C]}, or null
     * @see #forwardTraining(Tensor, Tensor, Tensor, Tensor, Tensor, float, float)
     */
    public static void forwardTraining(Tensor y, Tensor saveMean, Tensor saveRstd, Tensor runningMean,
            Tensor runningVar, Tensor x, Tensor gamma, Tensor beta, float eps, float momentum) {
        long[] nc = checkCommon(y, x, gamma, beta, eps);
        Checks.optional(OP, "saveMean", saveMean);
        Checks.optional(OP, "saveRstd", saveRstd);
        Checks.optional(OP, "runningMean", runningMean);
        Checks.optional(OP, "runningVar", runningVar);
        perChannel("saveMean", saveMean, x);
        perChannel("saveRstd", saveRstd, x);
        perChannel("runningMean", runningMean, x);
        perChannel("runningVar", runningVar, x);
        Checks.bothOrNeither(OP, "runningMean", runningMean, "runningVar", runningVar);
        // y comes after the per-channel outputs so that y == x (in place) stays allowed.
        Checks.distinct(OP, 4, List.of("saveMean", "saveRstd", "runningMean", "runningVar", "y", "x", "gamma", "beta"),
                saveMean, saveRstd, runningMean, runningVar, y, x, gamma, beta);
        Checks.inRange(OP, "momentum", momentum, 0f, 1f);
        if (nc[0] < 2) {
            // PyTorch's message (torch.nn.functional._verify_batch_size): one sample has no variance.
            throw new IllegalArgumentException(OP + ": Expected more than 1 value per channel when training, "
                    + "got input size " + Arrays.toString(x.shape()));
        }
        Device device = Checks.device(OP, List.of("y", "saveMean", "saveRstd", "runningMean", "runningVar", "x",
                "gamma", "beta"), y, saveMean, saveRstd, runningMean, runningVar, x, gamma, beta);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_batchnorm_fwd_train_f32(y.address(), Tensor.segmentOrNull(saveMean),
                    Tensor.segmentOrNull(saveRstd), Tensor.segmentOrNull(runningMean),
                    Tensor.segmentOrNull(runningVar), x.address(), Tensor.segmentOrNull(gamma),
                    Tensor.segmentOrNull(beta), nc[0], nc[1], eps, momentum, device.index()));
        } else {
            Status.check(nnfuse_h.nf_batchnorm_fwd_train_f32(y.segment(), Tensor.segmentOrNull(saveMean),
                    Tensor.segmentOrNull(saveRstd), Tensor.segmentOrNull(runningMean),
                    Tensor.segmentOrNull(runningVar), x.segment(), Tensor.segmentOrNull(gamma),
                    Tensor.segmentOrNull(beta), nc[0], nc[1], eps, momentum));
        }
    }

    /**
     * Normalizes {@code x} with the running statistics into a new tensor.
     *
     * @param x           input {@code [N, C]}
     * @param runningMean running mean {@code [C]}
     * @param runningVar  running variance {@code [C]}; not checked, NaN propagates as in PyTorch
     * @param gamma       scale {@code [C]}, or null for none
     * @param beta        shift {@code [C]}, or null for none
     * @param eps         added to the variance; finite and >= 0
     */
    public static Tensor forwardEval(Tensor x, Tensor runningMean, Tensor runningVar, Tensor gamma, Tensor beta,
            float eps) {
        Checks.tensor(OP, "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), x.shape()), y -> forwardEval(y, x, runningMean, runningVar, gamma, beta, eps));
    }

    /**
     * Normalizes {@code x} with the running statistics into {@code y}, which has
     * the shape of {@code x} and may be {@code x} itself (in place).
     *
     * @see #forwardEval(Tensor, Tensor, Tensor, Tensor, Tensor, float)
     */
    public static void forwardEval(Tensor y, Tensor x, Tensor runningMean, Tensor runningVar, Tensor gamma,
            Tensor beta, float eps) {
        long[] nc = checkCommon(y, x, gamma, beta, eps);
        Checks.tensor(OP, "runningMean", runningMean);
        Checks.tensor(OP, "runningVar", runningVar);
        perChannel("runningMean", runningMean, x);
        perChannel("runningVar", runningVar, x);
        Device device = Checks.device(OP, List.of("y", "x", "runningMean", "runningVar", "gamma", "beta"), y, x,
                runningMean, runningVar, gamma, beta);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_batchnorm_fwd_eval_f32(y.address(), x.address(), runningMean.address(),
                    runningVar.address(), Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), nc[0], nc[1], eps,
                    device.index()));
        } else {
            Status.check(nnfuse_h.nf_batchnorm_fwd_eval_f32(y.segment(), x.segment(), runningMean.segment(),
                    runningVar.segment(), Tensor.segmentOrNull(gamma), Tensor.segmentOrNull(beta), nc[0], nc[1],
                    eps));
        }
    }

    /**
     * The gradient with respect to {@code x} of a training-mode forward, in a
     * new tensor; see the writing form for the formula and for the parameter
     * gradients.
     *
     * @param dy       gradient of the loss with respect to y, shape of {@code x}
     * @param x        the forward's input {@code [N, C]}
     * @param saveMean the forward's saved means {@code [C]}
     * @param saveRstd the forward's saved {@code 1 / sqrt(var + eps)} {@code [C]}
     * @param gamma    the forward's scale {@code [C]}, or null for none
     */
    public static Tensor backwardTraining(Tensor dy, Tensor x, Tensor saveMean, Tensor saveRstd, Tensor gamma) {
        Checks.tensor(BACKWARD, "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), x.shape()),
                dx -> backwardTraining(dx, null, null, dy, x, saveMean, saveRstd, gamma, false));
    }

    /**
     * Backward of a training-mode forward (PyTorch's {@code batch_norm} backward
     * with {@code training=True}), from the statistics the forward saved. The
     * batch statistics depend on every row, so with {@code g = dy * gamma} and
     * {@code xhat = (x - mean) * rstd} per column, sums over the batch:
     * <pre>
     *   dx     = rstd / N * (N * g - sum(g) - xhat * sum(g * xhat))
     *   dgamma = sum(dy * xhat),   dbeta = sum(dy)
     * </pre>
     * The column sums are in double over fixed blocks of rows merged in order,
     * and each dx is computed in double and rounded once, so results do not
     * depend on the thread count.
     *
     * @param dx         gradient with respect to x, shape of {@code x}, overwritten; may be {@code dy} (in place);
     *                   or null when not needed
     * @param dgamma     gradient with respect to gamma {@code [C]}, or null
     * @param dbeta      gradient with respect to beta {@code [C]}, or null
     * @param accumulate false to overwrite dgamma and dbeta, true to add the new gradients to them (rounded to
     *                   float first), as PyTorch accumulates into {@code .grad}
     * @see #backwardTraining(Tensor, Tensor, Tensor, Tensor, Tensor)
     */
    public static void backwardTraining(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor saveMean,
            Tensor saveRstd, Tensor gamma, boolean accumulate) {
        long[] nc = checkBackward(dx, dgamma, dbeta, dy, x, gamma, List.of("saveMean", "saveRstd"), saveMean,
                saveRstd);
        Device device = Checks.device(BACKWARD, List.of("dx", "dgamma", "dbeta", "dy", "x", "saveMean", "saveRstd",
                "gamma"), dx, dgamma, dbeta, dy, x, saveMean, saveRstd, gamma);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_batchnorm_bwd_train_f32(Tensor.segmentOrNull(dx),
                    Tensor.segmentOrNull(dgamma), Tensor.segmentOrNull(dbeta), dy.address(), x.address(),
                    saveMean.address(), saveRstd.address(), Tensor.segmentOrNull(gamma), nc[0], nc[1],
                    accumulate ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_batchnorm_bwd_train_f32(Tensor.segmentOrNull(dx), Tensor.segmentOrNull(dgamma),
                    Tensor.segmentOrNull(dbeta), dy.segment(), x.segment(), saveMean.segment(), saveRstd.segment(),
                    Tensor.segmentOrNull(gamma), nc[0], nc[1], accumulate ? 1 : 0));
        }
    }

    /**
     * The gradient with respect to {@code x} of an eval-mode forward, in a new
     * tensor: {@code dy * gamma / sqrt(runningVar + eps)}.
     *
     * @see #backwardEval(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, float, boolean)
     */
    public static Tensor backwardEval(Tensor dy, Tensor x, Tensor runningMean, Tensor runningVar, Tensor gamma,
            float eps) {
        Checks.tensor(BACKWARD, "x", x);
        return Outputs.fill(Tensor.zeros(x.device(), x.shape()),
                dx -> backwardEval(dx, null, null, dy, x, runningMean, runningVar, gamma, eps, false));
    }

    /**
     * Backward of an eval-mode forward, as when a model is fine-tuned in eval
     * mode: the running statistics are constants, so with
     * {@code rstd = 1 / sqrt(runningVar + eps)} and {@code xhat = (x - runningMean) * rstd}:
     * {@code dx = dy * gamma * rstd}, {@code dgamma = sum(dy * xhat)}, {@code dbeta = sum(dy)}.
     * Outputs, accumulation and determinism as in
     * {@link #backwardTraining(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, boolean)}.
     */
    public static void backwardEval(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor runningMean,
            Tensor runningVar, Tensor gamma, float eps, boolean accumulate) {
        long[] nc = checkBackward(dx, dgamma, dbeta, dy, x, gamma, List.of("runningMean", "runningVar"), runningMean,
                runningVar);
        Checks.nonNegative(BACKWARD, "eps", eps);
        Device device = Checks.device(BACKWARD, List.of("dx", "dgamma", "dbeta", "dy", "x", "runningMean",
                "runningVar", "gamma"), dx, dgamma, dbeta, dy, x, runningMean, runningVar, gamma);
        NativeLibrary.ensureLoaded();
        if (device.isCuda()) {
            Status.check(nnfuse_h.nf_cuda_batchnorm_bwd_eval_f32(Tensor.segmentOrNull(dx),
                    Tensor.segmentOrNull(dgamma), Tensor.segmentOrNull(dbeta), dy.address(), x.address(),
                    runningMean.address(), runningVar.address(), Tensor.segmentOrNull(gamma), nc[0], nc[1], eps,
                    accumulate ? 1 : 0, device.index()));
        } else {
            Status.check(nnfuse_h.nf_batchnorm_bwd_eval_f32(Tensor.segmentOrNull(dx), Tensor.segmentOrNull(dgamma),
                    Tensor.segmentOrNull(dbeta), dy.segment(), x.segment(), runningMean.segment(),
                    runningVar.segment(), Tensor.segmentOrNull(gamma), nc[0], nc[1], eps, accumulate ? 1 : 0));
        }
    }

    /**
     * Checks what both backward modes share, with the two per-channel statistics
     * named in {@code statNames}, and returns {@code {N, C}}.
     */
    private static long[] checkBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor gamma,
            List<String> statNames, Tensor stat0, Tensor stat1) {
        final String op = BACKWARD;
        Checks.tensor(op, "x", x);
        Checks.rank(op, "x", x, 2, "[N, C]");
        Checks.tensor(op, "dy", dy);
        Checks.optional(op, "dx", dx);
        Checks.optional(op, "dgamma", dgamma);
        Checks.optional(op, "dbeta", dbeta);
        Checks.optional(op, "gamma", gamma);
        Checks.tensor(op, statNames.get(0), stat0);
        Checks.tensor(op, statNames.get(1), stat1);
        Checks.shape(op, "dy", dy, x.shape(), "the shape of x");
        Checks.shape(op, "dx", dx, x.shape(), "the shape of x");
        perChannel(op, "dgamma", dgamma, x);
        perChannel(op, "dbeta", dbeta, x);
        perChannel(op, "gamma", gamma, x);
        perChannel(op, statNames.get(0), stat0, x);
        perChannel(op, statNames.get(1), stat1, x);
        // dx may be dy (in place), so dy is only checked against the parameter gradients.
        Checks.distinct(op, 3, List.of("dgamma", "dbeta", "dx", "x", statNames.get(0), statNames.get(1), "gamma"),
                dgamma, dbeta, dx, x, stat0, stat1, gamma);
        Checks.distinct(op, 2, List.of("dgamma", "dbeta", "dy"), dgamma, dbeta, dy);
        return x.shape();
    }

    /** Checks what both modes share and returns {@code {N, C}}. */
    private static long[] checkCommon(Tensor y, Tensor x, Tensor gamma, Tensor beta, float eps) {
        Checks.tensor(OP, "x", x);
        Checks.rank(OP, "x", x, 2, "[N, C]");
        Checks.tensor(OP, "y", y);
        Checks.optional(OP, "gamma", gamma);
        Checks.optional(OP, "beta", beta);
        Checks.shape(OP, "y", y, x.shape(), "the shape of x");
        perChannel("gamma", gamma, x);
        perChannel("beta", beta, x);
        Checks.nonNegative(OP, "eps", eps);
        return x.shape();
    }

    private static void perChannel(String name, Tensor t, Tensor x) {
        perChannel(OP, name, t, x);
    }

    private static void perChannel(String op, String name, Tensor t, Tensor x) {
        Checks.shape(op, name, t, new long[] {x.size(1)}, "one per channel, the columns of x " + x.describe());
    }
}
