package nnfuse.demo;

import static nnfuse.demo.ReportTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The progress bar without a terminal, as in CI: plain lines on standard
 * error, with no carriage returns or escape codes, ending with the full bar
 * and the last figures, and no line printed twice in a row.
 */
class ProgressTest {
    @Test
    void writesPlainLinesWithoutATerminal() {
        assumeFalse(System.console() != null && System.console().isTerminal(), "needs a run without a terminal");
        PrintStream previous = System.err;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            Progress progress = Progress.console();
            try (Progress.Bar bar = progress.start("lambda 0", 3)) {
                for (int i = 1; i <= 3; i++) {
                    bar.step("loss 0." + i);
                }
            }
        } finally {
            System.setErr(previous);
        }
        String err = bytes.toString(StandardCharsets.UTF_8);
        assertFalse(err.contains("\r") || err.contains("\u001b"), err);
        String last = err.lines().reduce((a, b) -> b).orElseThrow();
        assertContains(last, "lambda 0", "100%", "3/3 epochs", "loss 0.3");
        assertEquals(err.lines().count(), err.lines().distinct().count(), err);
    }
}
