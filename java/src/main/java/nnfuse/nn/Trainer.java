package nnfuse.nn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import nnfuse.ArgmaxOps;
import nnfuse.DType;
import nnfuse.Device;
import nnfuse.Tensor;
import nnfuse.random.Philox4x32;

/**
 * A small training loop over in-memory data: mini-batch SGD on a
 * classification model with {@link CrossEntropyLoss} and an optional explicit
 * {@link L2Penalty}, the loop of a PyTorch tutorial:
 * <pre>
 *   for each mini-batch (x, y) of a shuffled epoch:
 *       optimizer.zero_grad()
 *       loss = criterion(model(x), y) + penalty(model)
 *       loss.backward()
 *       optimizer.step()
 * </pre>
 * Each piece is usable alone; this class only strings them together.
 *
 * <p>Determinism: an epoch's order is a Fisher-Yates shuffle whose draws
 * come from the counter-based generator ({@link Philox4x32}, stream
 * {@code shuffleSeed}), and every kernel gives bit-identical results whatever
 * the thread count, so the same model seeds, data and shuffle seeds give
 * bit-identical weights on any machine and at any thread count.
 *
 * <p>The trainer owns nothing: the model, the optimizer, the loss and the data
 * stay the caller's. Not thread-safe.
 */
public final class Trainer {
    private final Module model;
    private final SGD optimizer;
    private final CrossEntropyLoss loss;
    private final L2Penalty penalty;
    private int epochs;

    /**
     * One epoch's figures.
     *
     * @param epoch    the epochs this trainer has run, this one included (1 for the first)
     * @param loss     the mean over the epoch's samples of the objective of their batch (the loss as the criterion
     *                 reduces it, plus the penalty at the parameters before the batch's step): each batch
     *                 weighted by its size
     * @param accuracy the fraction of the epoch's samples whose training-mode logits have their label as argmax
     */
    public record EpochStats(int epoch, double loss, double accuracy) {}

    /**
     * @param model          the classifier: {@code [N, features]} to logits {@code [N, classes]}
     * @param optimizer      updates the model's parameters
     * @param loss           the criterion
     * @param penaltyOrNull  an explicit L2 penalty, or null for none (weight decay lives in the optimizer)
     */
    public Trainer(Module model, SGD optimizer, CrossEntropyLoss loss, L2Penalty penaltyOrNull) {
        if (model == null || optimizer == null || loss == null) {
            throw new IllegalArgumentException("model, optimizer and loss must not be null, got " + model + ", "
                    + optimizer + ", " + loss);
        }
        this.model = model;
        this.optimizer = optimizer;
        this.loss = loss;
        this.penalty = penaltyOrNull;
    }

    /**
     * One epoch in training mode: the samples of {@code x} in the order of a
     * shuffle fixed by {@code shuffleSeed}, in mini-batches of
     * {@code batchSize} rows (the last one smaller when the size does not
     * divide N, as PyTorch's {@code DataLoader(drop_last=False)}), each
     * gathered by copying rows, and one optimizer step per batch.
     *
     * @param x           float32 {@code [N, features]}
     * @param labels      int64 {@code [N]}
     * @param batchSize   rows per step, >= 1
     * @param shuffleSeed the stream of the shuffle's draws
     * @return the epoch's mean objective and training accuracy
     */
    public EpochStats trainEpoch(Tensor x, Tensor labels, int batchSize, long shuffleSeed) {
        int n = checkData(x, labels, batchSize);
        int[] order = shuffle(n, shuffleSeed);
        model.train();
        double objective = 0;
        long correct = 0;
        try (Arena arena = Arena.ofConfined()) {
            Tensor hostX = onHost(x, arena);
            Tensor hostLabels = onHost(labels, arena);
            for (int start = 0; start < n; start += batchSize) {
                int rows = Math.min(batchSize, n - start);
                try (Tensor xb = gather(hostX, order, start, rows, x.device());
                        Tensor yb = gather(hostLabels, order, start, rows, labels.device())) {
                    optimizer.zeroGrad();
                    double batchObjective;
                    try (Tensor logits = model.forward(xb)) {
                        batchObjective = loss.forward(logits, yb);
                        correct += matches(logits, yb);
                    }
                    if (penalty != null) {
                        batchObjective += penalty.value(model);
                    }
                    try (Tensor dlogits = loss.backward()) {
                        model.backward(dlogits).close();
                    }
                    if (penalty != null) {
                        penalty.addGradient(model);
                    }
                    optimizer.step();
                    objective += batchObjective * rows;
                }
            }
        }
        return new EpochStats(++epochs, objective / n, (double) correct / n);
    }

    /**
     * The fraction of samples whose logits have their label as argmax, in
     * evaluation mode (dropout off, batch norm on its running statistics) and
     * in order, {@code batchSize} rows at a time; the model's mode is restored
     * after.
     *
     * @param x         float32 {@code [N, features]}
     * @param labels    int64 {@code [N]}
     * @param batchSize rows per forward, >= 1 (any value gives the same result)
     */
    public double accuracy(Tensor x, Tensor labels, int batchSize) {
        int n = checkData(x, labels, batchSize);
        boolean training = model.isTraining();
        model.eval();
        try (Arena arena = Arena.ofConfined()) {
            Tensor hostX = onHost(x, arena);
            Tensor hostLabels = onHost(labels, arena);
            long correct = 0;
            for (int start = 0; start < n; start += batchSize) {
                int rows = Math.min(batchSize, n - start);
                int[] identity = new int[rows];
                for (int i = 0; i < rows; i++) {
                    identity[i] = start + i;
                }
                try (Tensor xb = gather(hostX, identity, 0, rows, x.device());
                        Tensor yb = gather(hostLabels, identity, 0, rows, labels.device());
                        Tensor logits = model.forward(xb)) {
                    correct += matches(logits, yb);
                }
            }
            return (double) correct / n;
        } finally {
            if (training) {
                model.train();
            }
        }
    }

    /**
     * The permutation of {@code 0..n-1} an epoch visits: Fisher-Yates from the
     * end, swapping position {@code i} with {@code j = floor(u * (i + 1) / 2^32)},
     * where {@code u} is draw {@code n - 1 - i} of the Philox stream
     * {@code seed} as an unsigned 32-bit integer (so it can be reproduced
     * outside Java from {@link Philox4x32#draw}).
     */
    static int[] shuffle(int n, long seed) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            long u = Integer.toUnsignedLong(Philox4x32.draw(seed, n - 1 - i));
            int j = (int) ((u * (i + 1)) >>> 32);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    /** {@code t} when it is in host memory, else a copy of it in {@code arena}: batches are gathered on the host. */
    private static Tensor onHost(Tensor t, Arena arena) {
        return t.device().isCuda() ? Tensor.zeros(arena, t.dtype(), t.shape()).copyFrom(t) : t;
    }

    /**
     * Rows {@code order[start .. start + rows - 1]} of the host tensor {@code host} (any element type), copied
     * into a new tensor on {@code device}: directly on the CPU, through a host staging tensor for a CUDA device.
     */
    private static Tensor gather(Tensor host, int[] order, int start, int rows, Device device) {
        long[] shape = host.shape();
        long rowBytes = host.numel() / shape[0] * host.dtype().byteSize();
        shape[0] = rows;
        try (Arena arena = Arena.ofConfined()) {
            Tensor out = device.isCuda() ? Tensor.zeros(arena, host.dtype(), shape)
                    : Tensor.zeros(Device.CPU, host.dtype(), shape);
            MemorySegment from = host.segment();
            MemorySegment to = out.segment();
            for (int r = 0; r < rows; r++) {
                MemorySegment.copy(from, order[start + r] * rowBytes, to, r * rowBytes, rowBytes);
            }
            return device.isCuda() ? out.to(device) : out;
        }
    }

    /** How many rows of {@code logits} have their label as argmax. */
    private static long matches(Tensor logits, Tensor labels) {
        try (Tensor predicted = ArgmaxOps.forward(logits)) {
            long[] p = predicted.toLongArray();
            long[] y = labels.toLongArray();
            long count = 0;
            for (int i = 0; i < p.length; i++) {
                if (p[i] == y[i]) {
                    count++;
                }
            }
            return count;
        }
    }

    /** Checks x {@code [N, features]}, labels {@code [N]} and the batch size; returns N. */
    private static int checkData(Tensor x, Tensor labels, int batchSize) {
        if (x == null || labels == null) {
            throw new IllegalArgumentException("x and labels must not be null, got " + x + " and " + labels);
        }
        if (x.isClosed() || labels.isClosed()) {
            throw new IllegalStateException("x and labels must be open, got " + x + " and " + labels);
        }
        if (x.dtype() != DType.FLOAT32 || x.rank() != 2) {
            throw new IllegalArgumentException("x must be float32 [N, features], got " + x.describe());
        }
        if (labels.dtype() != DType.INT64 || labels.rank() != 1 || labels.size(0) != x.size(0)) {
            throw new IllegalArgumentException("labels must be int64 [N] with N = " + x.size(0) + " (the rows of x "
                    + x.describe() + "), got " + labels.describe());
        }
        if (x.size(0) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("x has too many rows for one epoch: " + x.describe());
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        return (int) x.size(0);
    }
}
