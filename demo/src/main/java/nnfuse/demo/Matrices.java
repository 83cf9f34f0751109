package nnfuse.demo;

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

    private static String pad(String s, int width) {
        return " ".repeat(width - s.length()) + s;
    }
}
