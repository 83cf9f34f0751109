package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import nnfuse.LinearLnReluOps;
import nnfuse.testing.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Model size and activation accounting against the worksheet (Discussion 04,
 * section 1): C = 66,756 parameters and Z = 8,848 activation elements at batch
 * 4, Z = 2212 n at batch n, the activation shapes z1 to z10 of 1(a), and the
 * kept bytes in closed form. All counts are integers: compared exactly.
 */
class SummaryTest {
    /** Section 1(a): z1..z3 are [4, 128], z4..z6 [4, 256], z7..z9 [4, 20], z10 [4, 1000]. */
    private static final List<List<Long>> WORKSHEET_SHAPES = List.of(
            List.of(4L, 128L), List.of(4L, 128L), List.of(4L, 128L),
            List.of(4L, 256L), List.of(4L, 256L), List.of(4L, 256L),
            List.of(4L, 20L), List.of(4L, 20L), List.of(4L, 20L),
            List.of(4L, 1000L));

    @ParameterizedTest(name = "fused={0}")
    @ValueSource(booleans = {true, false})
    void worksheetModelAtBatch4(boolean fused) {
        try (Sequential model = Models.discussion04(fused, 1)) {
            assertEquals(66_756, model.parameterCount(), "section 1(d): C");
            Summary s = model.summary(4);
            assertEquals(66_756, s.parameters(), "section 1(d): C");
            assertEquals(8_848, s.activationElements(), "section 1(c): Z at batch 4");
            assertEquals(List.of(4L, 1000L), s.rows().getLast().outputShape(), "z10, the logits");
            if (fused) {
                assertEquals(List.of("0-2", "3-5", "6-8", "9"), s.rows().stream().map(Summary.Row::name).toList());
                assertEquals(List.of(3 * 4 * 128L, 3 * 4 * 256L, 3 * 4 * 20L, 4 * 1000L),
                        s.rows().stream().map(Summary.Row::activationElements).toList(), "section 1(c) term by term");
            } else {
                assertEquals(WORKSHEET_SHAPES, s.rows().stream().map(Summary.Row::outputShape).toList());
                assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
                        s.rows().stream().map(Summary.Row::name).toList());
            }
            String table = s.toString();
            assertTrue(table.contains("66,756") && table.contains("8,848"), table);
        }
    }

    @Test
    void activationsAreAMultipleOfTheBatch() {
        try (Sequential fused = Models.discussion04(true, 1); Sequential unfused = Models.discussion04(false, 1)) {
            for (int n : TestData.AWKWARD_SIZES) {
                assertEquals(2212L * n, fused.summary(n).activationElements(), "Z = n K, K = 2212, n = " + n);
                assertEquals(2212L * n, unfused.summary(n).activationElements(), "unfused, n = " + n);
                assertEquals(66_756, fused.summary(n).parameters());
            }
        }
    }

    /**
     * Unfused: each Linear keeps its input (52 + 128 + 256 + 20 = 456 n floats),
     * each LayerNorm its input (128 + 256 + 20 = 404 n) and 2 n statistics
     * (6 n in all), each ReLU its output (404 n). Fused: each block keeps its
     * input (52 + 128 + 256 = 436 n) and LinearLnReluOps.savedBytes; the last
     * Linear keeps 20 n. Both figures appear in the fused model's summary.
     */
    @ParameterizedTest(name = "batch {0}")
    @ValueSource(ints = {1, 4, 33})
    void keptBytesInClosedForm(int n) {
        long unfused = (456L + 404 + 6 + 404) * n * 4;
        long fused = (436L + 20) * n * 4 + LinearLnReluOps.savedBytes(n, 128) + LinearLnReluOps.savedBytes(n, 256)
                + LinearLnReluOps.savedBytes(n, 20);
        try (Sequential f = Models.discussion04(true, 1); Sequential u = Models.discussion04(false, 1)) {
            Summary fs = f.summary(n);
            assertEquals(fused, fs.savedBytes());
            assertEquals(unfused, fs.unfusedSavedBytes());
            assertEquals(unfused, u.summary(n).savedBytes());
            assertEquals(unfused, u.summary(n).unfusedSavedBytes());
        }
    }

    /**
     * BatchNorm1d keeps its input and 2 C statistics; Dropout keeps nothing,
     * where a stored mask would take a byte per element; ReLU its output.
     */
    @Test
    void batchNormAndDropoutRows() {
        try (Sequential model = new Sequential(new Linear(3, 8, true, 1), new BatchNorm1d(8), new Dropout(2),
                new ReLU())) {
            Summary s = model.summary(5);
            assertEquals(List.of(5 * 3 * 4L, (5 * 8 + 2 * 8) * 4L, 0L, 5 * 8 * 4L),
                    s.rows().stream().map(Summary.Row::savedBytes).toList());
            assertEquals(List.of(5 * 3 * 4L, (5 * 8 + 2 * 8) * 4L, 5 * 8L, 5 * 8 * 4L),
                    s.rows().stream().map(Summary.Row::unfusedSavedBytes).toList());
            assertEquals(4 * 5 * 8, s.activationElements());
            assertEquals(3 * 8 + 8 + 2 * 8, s.parameters());
            assertEquals(List.of("Linear", "BatchNorm1d", "Dropout", "ReLU"),
                    s.rows().stream().map(Summary.Row::type).toList());
        }
    }

    @Test
    void nestedContainersNameTheirRows() {
        try (Sequential model = new Sequential(new ReLU(), new Sequential(new FusedLinearLayerNormReLU(3, 4, false,
                1e-5f, 1), new Linear(4, 2, true, 1)))) {
            assertEquals(List.of("0", "1.0-1", "1.2"),
                    model.summary(2).rows().stream().map(Summary.Row::name).toList());
        }
    }

    @Test
    void badArguments() {
        try (ReLU relu = new ReLU(); Linear linear = new Linear(3, 4, true, 1);
                Sequential mismatched = new Sequential(new Linear(3, 4, true, 1), new LayerNorm(5))) {
            assertMessage(assertThrows(IllegalStateException.class, () -> relu.summary(4)), "ReLU()", "input");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> linear.summary(0)), "batch", "0");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> mismatched.summary(2)),
                    "LayerNorm((5,)", "5 features", "[2, 4]");
        }
    }
}
