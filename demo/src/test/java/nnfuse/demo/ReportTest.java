package nnfuse.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The table and the verdict rules on hand-made runs, so each rule is seen to
 * confirm and to refuse. Expected numbers are worked out by hand in the
 * comments (e.g. a standard error), not taken from the code's output.
 */
class ReportTest {
    private static final Experiment.Run STAR = run(0, 24, 1.0, 0.70, new float[] {3, 4});
    /** theta differs from theta* by 0.03 in one element: 0.03 / ||(3, 4)|| = 0.6%. */
    private static final Experiment.Run TINY = run(1e-7, 24, 1.0, 0.70, new float[] {3.03f, 4});
    private static final Experiment.Run MODERATE = run(0.07, 3.4, 0.88, 0.80, new float[] {1, 1});
    private static final Experiment.Run LARGE = run(1, 0.015, 0.10, 0.10, new float[] {0, 0});

    @Test
    void tableHasOneRowPerRun() {
        String table = print(out -> Report.table(out, List.of(STAR, TINY, MODERATE, LARGE)));
        List<String> lines = table.lines().toList();
        assertEquals(5, lines.size(), table);
        assertTrue(lines.get(0).contains("lambda   ||theta||_2   train acc   test acc   final loss"), table);
        assertEquals("           0       24.0000      100.0%      70.0%   0.5000", lines.get(1));
        assertEquals("       1e-07       24.0000      100.0%      70.0%   0.5000", lines.get(2));
        assertEquals("        0.07        3.4000       88.0%      80.0%   0.5000", lines.get(3));
        assertEquals("           1        0.0150       10.0%      10.0%   0.5000", lines.get(4));
    }

    /**
     * Every claim holds: (a) 0.015 < 3.4 / 10 and 10% < 2 x 10%; (b) 0.6% < 5%;
     * (c) iii: sqrt(0.8 * 0.2 / 3000 + 0.7 * 0.3 / 3000) = 0.0111, so two
     * standard errors are 2.2 points, below the 10-point gain.
     */
    @Test
    void confirmsWhatTheNumbersShow() {
        String v = print(out -> Report.verdicts(out, List.of(STAR, TINY, MODERATE, LARGE), 10, 3000));
        assertContains(v, "(a) a very large lambda (1) drives theta toward 0: confirmed",
                "(b) a tiny lambda (1e-07) recovers theta* (the lambda = 0 row): confirmed"
                        + " (||theta - theta*|| / ||theta*|| = 0.60%",
                "(c) a moderate lambda (0.07) against theta* (lambda = 0):",
                "i.   ||theta|| < ||theta*||: confirmed (3.4000 vs 24.0000)",
                "ii.  a little worse on the training set: confirmed (88.0% vs 100.0%, -12.0 points",
                "iii. better on the test set: confirmed (80.0% vs 70.0%, +10.0 points; needs more than 2 standard"
                        + " errors = 2.2 points on 3000 test samples)");
        assertTrue(!v.contains(Report.NOT_CONFIRMED), v);
    }

    /**
     * Each claim fails: (a) a norm of 5 is not below 3.4 / 10; (b) theta ends
     * 100% away; (c) ii: 50 points is more than "a little", iii: +1 point
     * is within 2.2 points of noise, i: a larger norm.
     */
    @Test
    void refusesWhatTheNumbersDoNotShow() {
        Experiment.Run large = run(1, 5, 0.10, 0.10, new float[] {0, 0});
        Experiment.Run far = run(1e-7, 24, 1.0, 0.70, new float[] {-3, -4});
        Experiment.Run moderate = run(0.07, 30, 0.50, 0.71, new float[] {1, 1});
        String v = print(out -> Report.verdicts(out, List.of(STAR, far, moderate, large), 10, 3000));
        assertContains(v, "(a) a very large lambda (1) drives theta toward 0: not confirmed by this run",
                "(b) a tiny lambda (1e-07) recovers theta* (the lambda = 0 row): not confirmed by this run"
                        + " (||theta - theta*|| / ||theta*|| = 200.00%",
                "i.   ||theta|| < ||theta*||: not confirmed by this run (30.0000 vs 24.0000)",
                "ii.  a little worse on the training set: not confirmed by this run (50.0% vs 100.0%, -50.0 points",
                "iii. better on the test set: not confirmed by this run (71.0% vs 70.0%, +1.0 points");
    }

    @Test
    void saysWhatItCannotJudge() {
        String v = print(out -> Report.verdicts(out, List.of(MODERATE, LARGE), 10, 3000));
        assertContains(v, "(b), (c) need the unregularized run theta* (lambda = 0): not judged.");
        String noTiny = print(out -> Report.verdicts(out, List.of(STAR, MODERATE, LARGE), 10, 3000));
        assertContains(noTiny, "(b) the lambda = 0 row is theta* by definition; no lambda <= 1e-05 was run");
        String alone = print(out -> Report.verdicts(out, List.of(STAR), 10, 3000));
        assertContains(alone, "(a) needs a positive lambda and another run to compare with: not judged.");
    }

    private static Experiment.Run run(double lambda, double norm, double train, double test, float[] theta) {
        return new Experiment.Run(lambda, norm, train, test, 0.5, List.of(), theta);
    }

    private static String print(Consumer<PrintStream> body) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        body.accept(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        return bytes.toString(StandardCharsets.UTF_8);
    }

    static void assertContains(String output, String... fragments) {
        for (String f : fragments) {
            assertTrue(output.contains(f), () -> "output lacks '" + f + "':\n" + output);
        }
    }
}
