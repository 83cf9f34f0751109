package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import nnfuse.DropoutOps;
import nnfuse.Tensor;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Dropout module: identity in eval, fresh masks per training call from an
 * advancing offset into the seed's stream, and PyTorch's validation of p. The
 * module only chooses the offset, so its outputs are compared bit for bit with
 * DropoutOps at the expected offsets.
 */
class DropoutModuleTest {
    @Test
    void evalIsTheIdentity() {
        try (Dropout dropout = new Dropout(0.75f, true, 1);
                Tensor x = Tensor.of(new float[] {2, 6, 4, 4, 5, 3, 4, 4}, 8)) {
            dropout.eval();
            try (Tensor y = dropout.forward(x)) {
                assertNotSame(x, y);
                Tolerance.assertBitIdentical("dropout eval", x.toFloatArray(), y.toFloatArray());
            }
        }
    }

    /** Call k uses offsets from the total elements of the calls before it, so successive masks differ. */
    @ParameterizedTest(name = "inverted = {0}")
    @ValueSource(booleans = {true, false})
    void trainingCallsAdvanceTheOffset(boolean inverted) {
        long seed = 1234;
        float p = 0.5f;
        try (Dropout dropout = new Dropout(p, inverted, seed);
                Tensor x = Tensor.of(TestData.uniform(1, 7 * 33, 1, 2), 7, 33);
                Tensor first = dropout.forward(x); Tensor second = dropout.forward(x);
                Tensor expectedFirst = DropoutOps.forward(x, p, inverted, seed, 0);
                Tensor expectedSecond = DropoutOps.forward(x, p, inverted, seed, x.numel())) {
            Tolerance.assertBitIdentical("dropout call 1", expectedFirst.toFloatArray(), first.toFloatArray());
            Tolerance.assertBitIdentical("dropout call 2", expectedSecond.toFloatArray(), second.toFloatArray());
            assertFalse(Arrays.equals(first.toFloatArray(), second.toFloatArray()), "two calls draw two masks");
        }
    }

    @Test
    void validatesPAsPyTorch() {
        for (float p : new float[] {-0.1f, 1.5f, Float.NaN}) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> new Dropout(p, true, 1)),
                    "dropout probability has to be between 0 and 1, but got " + p);
        }
        try (Dropout zero = new Dropout(0f, true, 1); Dropout one = new Dropout(1f, true, 1)) {
            assertEquals("Dropout(p=0.0, inverted=True)", zero.toString());
            assertEquals(0, one.parameterCount());
            assertEquals(0, one.stateDict().size());
        }
        try (Dropout byDefault = new Dropout(1)) {
            assertEquals("Dropout(p=0.5, inverted=True)", byDefault.toString());
        }
    }
}
