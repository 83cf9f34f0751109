package nnfuse.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Pattern;
import nnfuse.Tensor;

/**
 * Reads classification data from a CSV file: each line holds the numeric
 * features, then an integer class label (>= 0) in the last column, separated
 * by commas. The first non-blank line is a header, and skipped, when any of
 * its fields is not a number; blank lines are skipped; every other line must
 * have the same number of columns as the first one. Errors name the file and
 * the line.
 */
final class Csv {
    /** The largest label accepted: a label is a logit of the model's last layer, so this caps its size. */
    static final long MAX_LABEL = 999_999;

    /** A decimal number as written by numpy, pandas or a spreadsheet (no NaN, infinities or hex). */
    private static final Pattern NUMBER = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");
    private static final Pattern LABEL = Pattern.compile("\\+?\\d+");

    /** Features {@code [N, F]} (float32) and labels {@code [N]} (int64); closing frees both. */
    record Data(Tensor features, Tensor labels) implements AutoCloseable {
        @Override
        public void close() {
            features.close();
            labels.close();
        }
    }

    private Csv() {}

    /**
     * Reads {@code file}.
     *
     * @throws IllegalArgumentException naming the file and line of the first malformed line, or when fewer
     *     than two data rows remain
     * @throws IOException when the file cannot be read
     */
    static Data read(Path file) throws IOException {
        Parser parser = new Parser(file);
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                parser.line(line);
            }
        }
        return parser.data();
    }

    /** The state of a read: the column count fixed by the first line, and the rows so far. */
    private static final class Parser {
        private final Path file;
        private int number;
        private int columns = -1;
        private int columnsLine;
        private int rows;
        private float[] features = new float[1024];
        private long[] labels = new long[64];

        Parser(Path file) {
            this.file = file;
        }

        void line(String line) {
            number++;
            if (line.isBlank()) {
                return;
            }
            String[] fields = line.split(",", -1);
            boolean first = columns < 0;
            if (first) {
                columns = fields.length;
                columnsLine = number;
                if (Arrays.stream(fields).map(String::strip).anyMatch(f -> !NUMBER.matcher(f).matches())) {
                    return;
                }
            }
            String where = file + ":" + number;
            if (columns < 2) {
                throw new IllegalArgumentException(where + ": need at least one feature and a label, got 1 column");
            }
            if (fields.length != columns) {
                throw new IllegalArgumentException(where + ": expected " + columns + " columns (as on line "
                        + columnsLine + "), got " + fields.length);
            }
            int width = columns - 1;
            features = ensure(features, Math.multiplyExact(rows + 1, width));
            labels = ensure(labels, rows + 1);
            for (int j = 0; j < width; j++) {
                features[rows * width + j] = feature(where, j + 1, fields[j].strip());
            }
            labels[rows] = label(where, columns, fields[width].strip());
            rows++;
        }

        Data data() {
            if (rows < 2) {
                throw new IllegalArgumentException(file + ": need at least 2 data rows to split into training and"
                        + " test sets, got " + rows);
            }
            int width = columns - 1;
            Tensor x = Tensor.of(Arrays.copyOf(features, rows * width), rows, width);
            try {
                return new Data(x, Tensor.ofLongs(Arrays.copyOf(labels, rows), rows));
            } catch (RuntimeException e) {
                x.close();
                throw e;
            }
        }
    }

    private static float feature(String where, int column, String field) {
        if (!NUMBER.matcher(field).matches()) {
            throw new IllegalArgumentException(where + ": column " + column + ": '" + field + "' is not a number");
        }
        float value = Float.parseFloat(field);
        if (Float.isInfinite(value)) {
            throw new IllegalArgumentException(where + ": column " + column + ": " + field
                    + " is out of the float32 range");
        }
        return value;
    }

    private static long label(String where, int column, String field) {
        if (!LABEL.matcher(field).matches()) {
            throw new IllegalArgumentException(where + ": column " + column + " (the label): must be an integer >= 0,"
                    + " got '" + field + "'");
        }
        String digits = field.replaceFirst("^\\+?0*(?=\\d)", "");
        if (digits.length() > 7 || Long.parseLong(digits) > MAX_LABEL) {
            throw new IllegalArgumentException(where + ": column " + column + " (the label): " + field
                    + " is larger than " + MAX_LABEL + " (one logit per class)");
        }
        return Long.parseLong(digits);
    }

    private static float[] ensure(float[] a, int size) {
        return size <= a.length ? a : Arrays.copyOf(a, Math.max(size, 2 * a.length));
    }

    private static long[] ensure(long[] a, int size) {
        return size <= a.length ? a : Arrays.copyOf(a, Math.max(size, 2 * a.length));
    }
}
