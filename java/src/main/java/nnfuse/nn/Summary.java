package nnfuse.nn;

import java.util.List;
import java.util.Locale;
import java.util.function.ToLongFunction;

/**
 * What running a module on one batch involves, layer by layer
 * ({@link Module#summary(long)}); {@link #toString()} prints it as a table.
 *
 * <p>Activation elements count the output of every layer PyTorch would run,
 * as the worksheet's section 1(c) counts Z: a fused Linear + LayerNorm + ReLU
 * block counts its three outputs, {@code 3 * batch * out}, although it
 * materializes fewer. Kept bytes are what each layer retains after a forward
 * in training mode for its {@link Module#backward} (the modules hold exactly
 * this, {@link Module#keptBytes()}, and nothing after a forward in evaluation
 * mode): Linear its input; LayerNorm its input and per-row mean and rstd; ReLU
 * its output; BatchNorm1d its input and per-channel mean and rstd; Dropout
 * nothing (its mask is regenerated from the seed and offset); the fused block
 * its input plus {@link nnfuse.LinearLnReluOps#savedBytes}. Unfused kept bytes
 * are what the same layers keep run the usual way: each fused block replaced
 * by its separate Linear, LayerNorm and ReLU modules, and each Dropout storing
 * its mask, one byte per element (the bool mask of PyTorch's
 * {@code native_dropout}); the difference is what nnfuse saves.
 *
 * <p>Immutable and thread-safe.
 *
 * @param batch the rows of the input
 * @param rows  one row per layer, in execution order
 */
public record Summary(long batch, List<Row> rows) {

    /**
     * One layer.
     *
     * @param name               its PyTorch index in the container (e.g. {@code "3"}), or the range of
     *                           indices a fused block stands for (e.g. {@code "0-2"}); empty for a lone module
     * @param type               the module's class name
     * @param outputShape        the shape of its output
     * @param parameters         its parameter elements
     * @param activationElements the activation elements it produces, counted as the worksheet counts them
     * @param savedBytes         the bytes it keeps for the backward pass
     * @param unfusedSavedBytes  the bytes kept run the usual way: a fused block as separate modules, a Dropout
     *                           with a stored one-byte mask (else {@code savedBytes})
     */
    public record Row(String name, String type, List<Long> outputShape, long parameters, long activationElements,
            long savedBytes, long unfusedSavedBytes) {
        /** Copies the shape. */
        public Row {
            outputShape = List.copyOf(outputShape);
        }
    }

    /** Copies the rows. */
    public Summary {
        rows = List.copyOf(rows);
    }

    /** Total parameter elements (C in the worksheet). */
    public long parameters() {
        return total(Row::parameters);
    }

    /** Total activation elements (Z in the worksheet). */
    public long activationElements() {
        return total(Row::activationElements);
    }

    /** Total bytes kept for the backward pass. */
    public long savedBytes() {
        return total(Row::savedBytes);
    }

    /** Total bytes the layers would keep run the usual way (unfused, dropout masks stored). */
    public long unfusedSavedBytes() {
        return total(Row::unfusedSavedBytes);
    }

    /** The table: one line per layer, then the totals. */
    @Override
    public String toString() {
        String format = "%-7s %-26s %-14s %,12d %,13d %,12d %,14d%n";
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-7s %-26s %-14s %12s %13s %12s %14s%n",
                "layer", "type", "output shape", "parameters", "activations", "kept bytes", "unfused kept"));
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, format, r.name(), r.type(), r.outputShape(), r.parameters(),
                    r.activationElements(), r.savedBytes(), r.unfusedSavedBytes()));
        }
        b.append(String.format(Locale.ROOT, format, "total", "batch " + batch, "", parameters(),
                activationElements(), savedBytes(), unfusedSavedBytes()));
        return b.toString();
    }

    private long total(ToLongFunction<Row> column) {
        return rows.stream().mapToLong(column).sum();
    }
}
