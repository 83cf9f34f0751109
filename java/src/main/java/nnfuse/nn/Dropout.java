package nnfuse.nn;

import java.util.List;
import nnfuse.DropoutOps;
import nnfuse.Tensor;

/**
 * Dropout, as PyTorch's {@code nn.Dropout(p)}: in training mode each element
 * is zeroed with probability {@code p}, and with {@code inverted} (PyTorch's
 * behaviour, the worksheet's "dropout with correction") the kept ones are
 * scaled by {@code 1 / (1 - p)}; in evaluation mode it is the identity.
 *
 * <p>The masks come from the counter-based generator ({@link DropoutOps}):
 * element {@code i} of a call uses draw {@code offset + i} of the stream
 * {@code seed}. The offset starts at 0 and each training call advances it by
 * the number of elements, so successive calls draw fresh masks and a backward
 * pass can regenerate a mask from {@code (seed, offset)} instead of storing it.
 * A forward in training mode keeps only that offset (and the shape), no
 * tensor: {@link DropoutOps#backward} draws the same mask again.
 *
 * <p>Not thread-safe (see {@link Module}).
 */
public final class Dropout extends Module {
    private final float p;
    private final boolean inverted;
    private final long seed;
    private long offset;
    private long keptOffset;

    /** PyTorch's default: p = 0.5, inverted. */
    public Dropout(long seed) {
        this(DropoutOps.DEFAULT_P, true, seed);
    }

    /**
     * @param p        the probability of zeroing an element, in [0, 1]
     * @param inverted whether kept elements are scaled by {@code 1 / (1 - p)}
     * @param seed     the generator stream of the masks
     */
    public Dropout(float p, boolean inverted, long seed) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("dropout probability has to be between 0 and 1, but got " + p);
        }
        this.p = p;
        this.inverted = inverted;
        this.seed = seed;
    }

    /** Training: a new masked tensor, advancing the offset; evaluation: a copy of {@code input}. */
    @Override
    public Tensor forward(Tensor input) {
        checkOpen();
        if (!isTraining()) {
            releaseSaved();
            return copy(input);
        }
        Tensor y = keeping(s -> DropoutOps.forward(input, p, inverted, seed, offset));
        keptOffset = offset;
        offset += input.numel();
        return y;
    }

    /** The forward's mask, drawn again from the seed and the offset of the last forward, applied to gradOutput. */
    @Override
    public Tensor backward(Tensor gradOutput) {
        checkOpen();
        takeSaved(gradOutput).close();
        return DropoutOps.backward(gradOutput, p, inverted, seed, keptOffset);
    }

    @Override
    String extraRepr() {
        return "p=" + p + ", inverted=" + py(inverted);
    }

    /**
     * Keeps nothing: the mask is regenerated from the seed and offset. The
     * stored-mask figure is one byte per element, the bool mask PyTorch's
     * {@code native_dropout} keeps for its backward.
     */
    @Override
    long[] summarize(String name, long[] in, List<Summary.Row> rows) {
        rows.add(row(name, in, numel(in), 0, numel(in)));
        return in.clone();
    }
}
