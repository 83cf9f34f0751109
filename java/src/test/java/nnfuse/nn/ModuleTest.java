package nnfuse.nn;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import nnfuse.DType;
import nnfuse.Device;
import nnfuse.Tensor;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every module shares: train/eval reaching every child, strict state-dict
 * loading with PyTorch's messages, .npz save and load (bit for bit, and read
 * by numpy), ownership and use after close. Values are copied, never
 * computed, so every comparison is exact.
 */
class ModuleTest {
    @Test
    void trainAndEvalReachEveryChild() {
        try (Sequential model = new Sequential(new FusedLinearLayerNormReLU(3, 4, 1), new Sequential(
                new BatchNorm1d(4), new Dropout(1)), new Linear(4, 2, true, 1))) {
            List<Module> all = descendants(model);
            assertEquals(9, all.size());
            assertTrue(all.stream().allMatch(Module::isTraining), "modules start in training mode");
            assertSame(model, model.eval());
            assertTrue(all.stream().noneMatch(Module::isTraining), "eval() reaches every child");
            assertSame(model, model.train());
            assertTrue(all.stream().allMatch(Module::isTraining), "train() reaches every child");
        }
    }

    @Test
    void stateDictNamesFollowPyTorchIndices() {
        try (Sequential model = new Sequential(new FusedLinearLayerNormReLU(3, 4, false, 1e-5f, 1), new ReLU(),
                new Sequential(new BatchNorm1d(4), new Dropout(1)), new Linear(4, 2, false, 1))) {
            assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "3.0.weight", "3.0.bias",
                    "3.0.running_mean", "3.0.running_var", "3.0.num_batches_tracked", "4.weight"),
                    List.copyOf(model.stateDict().keySet()));
            assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "3.0.weight", "3.0.bias", "4.weight"),
                    List.copyOf(model.namedParameters().keySet()));
            assertEquals(3 * 4 + 4 + 4 + 4 + 4 + 4 + 4 * 2, model.parameterCount());
        }
        try (FusedLinearLayerNormReLU alone = new FusedLinearLayerNormReLU(3, 4, 1)) {
            assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias"),
                    List.copyOf(alone.stateDict().keySet()), "as nn.Sequential(Linear, LayerNorm, ReLU)");
        }
    }

    /** PyTorch: "Error(s) in loading state_dict for ...", then one tab-indented line per kind of problem. */
    @Test
    void loadStateDictIsStrict() {
        try (Sequential model = new Sequential(new Linear(2, 3, true, 1), new BatchNorm1d(3));
                Tensor w32 = Tensor.zeros(2, 3); Tensor b = Tensor.zeros(3); Tensor extra = Tensor.zeros(1);
                Tensor rm = Tensor.zeros(3); Tensor rv = Tensor.zeros(3); Tensor floatCount = Tensor.zeros(1)) {
            float[] before = model.stateDict().get("0.weight").toFloatArray();
            Map<String, Tensor> bad = new LinkedHashMap<>();
            bad.put("0.weight", w32);
            bad.put("0.bias", b);
            bad.put("0.extra", extra);
            bad.put("1.running_mean", rm);
            bad.put("1.running_var", rv);
            bad.put("1.num_batches_tracked", floatCount);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.loadStateDict(bad));
            assertMessage(e, "Error(s) in loading state_dict for Sequential:\n\t",
                    "Missing key(s) in state_dict: \"1.weight\", \"1.bias\".",
                    "Unexpected key(s) in state_dict: \"0.extra\".",
                    "size mismatch for 0.weight: copying a param with shape [2, 3] from checkpoint, "
                            + "the shape in current model is [3, 2].",
                    "dtype mismatch for 1.num_batches_tracked", "float32[1]", "int64[1]");
            assertFalse(e.getMessage().contains("0.bias"), "matching entries are not reported");
            assertArrayEquals(before, model.stateDict().get("0.weight").toFloatArray(), "nothing is copied");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> model.loadStateDict(null)),
                    "stateDict", "null");
            Tensor closed = Tensor.zeros(3);
            closed.close();
            Map<String, Tensor> withClosed = new LinkedHashMap<>(model.stateDict());
            withClosed.put("0.bias", closed);
            assertMessage(assertThrows(IllegalStateException.class, () -> model.loadStateDict(withClosed)),
                    "0.bias", "closed");
        }
    }

    @Test
    void saveAndLoadRoundTripBitForBit(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("model.npz");
        try (Sequential a = trainedModel(1); Sequential b = trainedModel(2)) {
            a.save(file);
            b.load(file);
            Map<String, Tensor> sa = a.stateDict();
            b.stateDict().forEach((key, t) -> {
                if (t.dtype() == DType.INT64) {
                    Tolerance.assertExact("module load " + key, sa.get(key).toLongArray(), t.toLongArray());
                } else {
                    Tolerance.assertBitIdentical("module load " + key, sa.get(key).toFloatArray(), t.toFloatArray());
                }
            });
            assertEquals(3, b.stateDict().get("3.num_batches_tracked").getLong(0));
        }
    }

    /** numpy reads every array with PyTorch's dtype and shape (num_batches_tracked a 0-d int64) and the same bytes. */
    @Test
    void numpyReadsTheSavedArchive(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("model.npz");
        List<String> expected = new ArrayList<>();
        try (Sequential model = trainedModel(1)) {
            model.save(file);
            model.stateDict().forEach((key, t) -> expected.add(key + " " + (t.dtype() == DType.INT64 ? "int64 ()"
                    : "float32 " + pyShape(t.shape())) + " " + sha256(t)));
        }
        String script = """
                import hashlib, sys
                import numpy as np
                with np.load(sys.argv[1]) as z:
                    for k in z.files:
                        print(k, z[k].dtype, z[k].shape, hashlib.sha256(z[k].tobytes()).hexdigest())
                """;
        assertEquals(expected, Fixtures.python(script, file.toString()));
    }

    @Test
    void closeFreesEverythingAndForbidsUse() {
        Sequential model = new Sequential(new Linear(2, 3, true, 1), new BatchNorm1d(3));
        Linear linear = (Linear) model.modules().getFirst();
        Tensor weight = linear.weight().data();
        Tensor runningMean = model.stateDict().get("1.running_mean");
        model.close();
        model.close();
        assertTrue(weight.isClosed() && runningMean.isClosed(), "parameters and buffers are freed");
        try (Tensor x = Tensor.zeros(4, 2)) {
            assertMessage(assertThrows(IllegalStateException.class, () -> model.forward(x)), "Sequential", "closed");
            assertMessage(assertThrows(IllegalStateException.class, () -> linear.forward(x)), "Linear", "closed");
        }
        assertThrows(IllegalStateException.class, model::stateDict);
        assertThrows(IllegalStateException.class, model::eval);
        assertThrows(IllegalStateException.class, () -> model.summary(1));
        assertThrows(IllegalStateException.class, linear::weight);
        assertMessage(assertThrows(IllegalStateException.class, () -> new Sequential(linear)), "Linear", "closed");
    }

    @Test
    void emptySequentialReturnsACopy() {
        try (Sequential empty = new Sequential(); Tensor x = Tensor.of(new float[] {1, -2}, 2);
                Tensor y = empty.forward(x)) {
            assertNotSame(x, y);
            assertArrayEquals(x.toFloatArray(), y.toFloatArray());
            assertEquals("Sequential()", empty.toString());
        }
        assertMessage(assertThrows(IllegalArgumentException.class, () -> new Sequential(new ReLU(), null)),
                "modules[1]", "null");
    }

    /** A model whose parameters differ by seed and whose batch norm has counted three batches. */
    private static Sequential trainedModel(long seed) {
        Sequential model = new Sequential(new FusedLinearLayerNormReLU(5, 6, seed), new BatchNorm1d(6),
                new Linear(6, 2, true, seed));
        try (Tensor x = Tensor.of(TestData.normal(seed, 8 * 5, 0, 1), 8, 5)) {
            for (int i = 0; i < 3; i++) {
                model.forward(x).close();
            }
        }
        return model;
    }

    private static List<Module> descendants(Module m) {
        List<Module> all = new ArrayList<>(List.of(m));
        m.children().forEach(c -> all.addAll(descendants(c)));
        return all;
    }

    private static String pyShape(long[] shape) {
        return shape.length == 1 ? "(" + shape[0] + ",)" : "(" + shape[0] + ", " + shape[1] + ")";
    }

    private static String sha256(Tensor t) {
        try (Tensor host = t.to(Device.CPU)) {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(host.segment().toArray(ValueLayout.JAVA_BYTE)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
