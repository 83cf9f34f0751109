package nnfuse.demo;

import java.io.PrintStream;
import java.util.Locale;
import nnfuse.Tensor;

/** Formats small 2-D tensors the way the worksheet writes matrices. */
final class Matrices {
    private Matrices() {}

    /** Rows in brackets, values right-aligned with {@code decimals} places. */
    static String format(Tensor t, int decimals) {
        long rows = t.size(0);
        long cols = t.rank() == 1 ? 1 : t.size(1);
        float[] v = t.toFloatArray();
        String[] cells = new String[v.length];
        int width = 0;
        for (int i = 0; i < v.length; i++) {
            float value = v[i] == 0 ? 0f : v[i];
            cells[i] = String.format(Locale.ROOT, "%." + decimals + "f", value);
            width = Math.max(width, cells[i].length());
        }
        StringBuilder sb = new StringBuilder();
        for (long r = 0; r < rows; r++) {
            sb.append("  [");
            for (long c = 0; c < cols; c++) {
                sb.append(c == 0 ? "" : "  ").append(pad(cells[(int) (r * cols + c)], width));
            }
            sb.append("]\n");
        }
        return sb.toString();
    }

    /**
     * Points out the entries where the worksheet's printed answer differs from
     * the exact result rounded to two decimals: the worksheet rounds the
     * normalized value ({@code roundedQuantity}) to two decimals before scaling
     * and shifting it, and the scale carries that rounding into the answer.
     */
    static void roundingNotes(PrintStream out, Tensor exact, float[][] worksheet, String roundedQuantity) {
        int differing = 0;
        for (int r = 0; r < worksheet.length; r++) {
            for (int c = 0; c < worksheet[r].length; c++) {
                double value = exact.get(r, c);
                double rounded = Math.round(value * 100) / 100.0;
                if (Math.abs(rounded - worksheet[r][c]) > 1e-6) {
                    if (differing++ == 0) {
                        out.println("Where the worksheet's hand calculation differs (it rounds " + roundedQuantity
                                + " to two decimals before scaling):");
                    }
                    out.printf(Locale.ROOT, "  row %d, column %d: worksheet %.2f, exact %.4f%n", r + 1, c + 1,
                            worksheet[r][c], value);
                }
            }
        }
        if (differing == 0) {
            out.println("Every entry matches the worksheet to two decimals.");
        }
    }

    /** The elements of a float32 tensor as {@code [a, b, ...]} with {@code decimals} places. */
    static String vector(Tensor t, int decimals) {
        float[] v = t.toFloatArray();
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%." + decimals + "f", v[i]));
        }
        return sb.append(']').toString();
    }

    /** Each line of {@code block} indented by four spaces. */
    static String indent(String block) {
        return block.lines().map(l -> "    " + l + System.lineSeparator()).reduce("", String::concat);
    }

    private static String pad(String s, int width) {
        return " ".repeat(width - s.length()) + s;
    }
}
