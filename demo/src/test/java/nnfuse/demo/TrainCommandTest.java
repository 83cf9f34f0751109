package nnfuse.demo;

import static nnfuse.demo.ReportTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import nnfuse.nn.Datasets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./nnfuse train --csv FILE} through its Java entry point: a small CSV
 * written here from synthetic data trains and reports the table; bad CSVs and
 * bad options fail with messages that name the file, the line and the problem.
 */
class TrainCommandTest {
    @TempDir
    Path dir;

    /** 3 classes x 10 rows of 5 features: 30 rows, of which round(0.2 x 30) = 6 are held out. */
    @Test
    void trainsOnACsvAndReportsTheTable() throws IOException {
        Path csv = dir.resolve("data.csv");
        StringBuilder text = new StringBuilder("f1,f2,f3,f4,f5,label\n");
        try (Datasets.Split d = Datasets.synthetic(3, 10, 1, 5, 0.5f, 0f, 8)) {
            float[] x = d.trainFeatures().toFloatArray();
            long[] y = d.trainLabels().toLongArray();
            for (int r = 0; r < y.length; r++) {
                for (int j = 0; j < 5; j++) {
                    text.append(String.format(Locale.ROOT, "%.6f,", x[r * 5 + j]));
                }
                text.append(y[r]).append('\n');
            }
        }
        Files.writeString(csv, text);
        Path plot = dir.resolve("train.png");
        String out = run("--csv", csv.toString(), "--epochs", "2", "--lambda", "0, 0.07,1", "--plot",
                plot.toString());
        assertContains(out, csv + ": 30 rows, 5 features, 3 classes (largest label + 1); a seeded shuffle keeps 24"
                + " rows for training and 6 for the test set.",
                "Models.discussion04(fused=true, seed=2026) with 5 inputs and 3 classes",
                "2 epochs per lambda", "3 runs on 24 training and 6 test samples",
                "(a) a very large lambda (1)", "iii. better on the test set");
        assertEquals(3, out.lines().filter(l -> l.matches("\\s+(0|0\\.07|1)\\s+\\d+\\.\\d{4}\\s.*%.*")).count(),
                out);
        assertTrue(Files.size(plot) > 0);
    }

    @Test
    void readsFeaturesAndLabels() throws IOException {
        Path csv = write("a,b,label\n1, 2.5 ,0\n\n-3e2,+.5,2\n");
        try (Csv.Data d = Csv.read(csv)) {
            assertArrayEquals(new long[] {2, 2}, d.features().shape());
            assertArrayEquals(new float[] {1, 2.5f, -300, 0.5f}, d.features().toFloatArray());
            assertArrayEquals(new long[] {0, 2}, d.labels().toLongArray());
        }
        try (Csv.Data noHeader = Csv.read(write("1,0\n2,1\n"))) {
            assertArrayEquals(new long[] {2, 1}, noHeader.features().shape());
        }
    }

    @Test
    void rejectsBadCsvs() throws IOException {
        assertBad("1,2,0\n3,4\n", ":2: expected 3 columns (as on line 1), got 2");
        assertBad("x,y,label\n1,2,0\n3,4,1,5\n", ":3: expected 3 columns (as on line 1), got 4");
        assertBad("1,2,0\n3,abc,1\n", ":2: column 2: 'abc' is not a number");
        assertBad("1,2,0\n3,NaN,1\n", ":2: column 2: 'NaN' is not a number");
        assertBad("1,2,0\n3,1e39,1\n", ":2: column 2: 1e39 is out of the float32 range");
        assertBad("1,2,0\n3,4,1.5\n", ":2: column 3 (the label): must be an integer >= 0, got '1.5'");
        assertBad("1,2,0\n3,4,-1\n", ":2: column 3 (the label): must be an integer >= 0, got '-1'");
        assertBad("1,2,0\n3,4,1000000\n", ":2: column 3 (the label): 1000000 is larger than 999999");
        assertBad("1\n2\n", ":1: need at least one feature and a label, got 1 column");
        assertBad("x,label\n", ": need at least 2 data rows to split into training and test sets, got 0");
        assertBad("x,label\n1,0\n", ": need at least 2 data rows to split into training and test sets, got 1");
        assertThrows(NoSuchFileException.class, () -> Csv.read(dir.resolve("missing.csv")));
    }

    @Test
    void rejectsBadOptions() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> TrainCommand.parse(new String[0])),
                "--csv FILE is required", "usage: nnfuse train --csv FILE");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> TrainCommand.parse(new String[] {"--csv", "a.csv", "--bogus", "1"})), "unknown option '--bogus'");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> TrainCommand.parse(new String[] {"--csv"})), "--csv needs a value");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> TrainCommand.parse(new String[] {"--csv", "a.csv", "--epochs", "0"})),
                "--epochs takes an integer >= 1, got '0'");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> TrainCommand.parse(new String[] {"--csv", "a.csv", "--lambda", "0,abc"})),
                "--lambda takes comma-separated numbers, got '0,abc'");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> TrainCommand.parse(new String[] {"--csv", "a.csv", "--lambda", "0,-1"})),
                "lambda must be finite and >= 0, got -1.0");
        TrainCommand.Options o = TrainCommand.parse(new String[] {"--epochs", "7", "--csv", "a.csv"});
        assertEquals(7, o.config().epochs());
        assertEquals(Path.of("a.csv"), o.csv());
        assertArrayEquals(Regularization.TRAINING.lambdas(), o.config().lambdas());
    }

    private static void assertMessage(Exception e, String... fragments) {
        assertContains(e.getMessage(), fragments);
    }

    private void assertBad(String content, String message) throws IOException {
        Path csv = write(content);
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Csv.read(csv)), csv + message);
    }

    private Path write(String content) throws IOException {
        Path csv = Files.createTempFile(dir, "data", ".csv");
        Files.writeString(csv, content);
        return csv;
    }

    private static String run(String... args) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        TrainCommand.run(args, new PrintStream(bytes, true, StandardCharsets.UTF_8), Progress.none());
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
