package nnfuse.demo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The demo prints the worksheet's numbers. Expected strings are the
 * worksheet's answers (or their exact values where the worksheet rounds), not
 * output captured from the demo.
 */
class Discussion04Test {
    private static String output;

    @BeforeAll
    static void runDemo() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Discussion04.run(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        output = bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void section1ModelSize() {
        assertContains("Linear1(in_feats=52, out_feats=128)", "Linear3(in_feats=256, out_feats=20)",
                "Linear4(in_feats=20, out_feats=1000)", "z10  Linear     [4, 1000]", "z11  argmax     [4, 1]",
                "Z = 8,848", "C = 66,756", "K = 2,212", "from batch size n = 31");
    }

    @Test
    void section2LayerNorm() {
        assertContains("[-1.00  -3.00   4.00   4.00]", "[-1.00  -1.67   0.00   6.67]",
                "[-0.58  -2.15  -0.73   6.93]", "worksheet -1.66, exact -1.6667");
    }

    @Test
    void section3BatchNorm() {
        assertContains("column 3: mean = 5, variance = 14", "column 4: mean = 4, variance = 18",
                "[-0.71  -3.83  -2.21  -2.83]", "[ 1.41   0.41   5.01   5.66]",
                "Expected more than 1 value per channel when training, got input size [1, 4]");
    }

    @Test
    void section4Dropout() {
        assertContains("[0, 0, 0, 0, 0, 0, 1, 1]", "y_drop = 8", "y_corr = 32", "y_orig = 32");
    }

    /**
     * 4(e): the mean of x = [2, 6, 4, 4, 5, 3, 4, 4] is 32 / 8 = 4, which
     * evaluation-mode dropout keeps exactly; training-mode batch norm gives
     * every column mean 0 and variance var / (var + eps), 1.00 to two places,
     * by construction.
     */
    @Test
    void section4eTrainAndEvalModes() {
        assertContains("four copies of x (mean 4.000)", "evaluation mode (the identity), mean 4.000",
                "BatchNorm1d(4) after 50 training batches of 32 rows",
                "column means [0.00, 0.00, 0.00, 0.00], variances [1.00, 1.00, 1.00, 1.00]");
    }

    private static void assertContains(String... fragments) {
        for (String f : fragments) {
            assertTrue(output.contains(f), () -> "demo output lacks '" + f + "':\n" + output);
        }
    }
}
