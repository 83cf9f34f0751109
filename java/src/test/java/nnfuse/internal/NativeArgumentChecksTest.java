package nnfuse.internal;

import static nnfuse.testing.Messages.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import nnfuse.internal.bindings.nnfuse_h;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The C entry points of the linear, ReLU and BatchNorm families check their own arguments (the Java ops never
 * let these reach them): each bad argument returns NF_ERR_INVALID_ARGUMENT with a message naming the function
 * and the argument, and the internal routines the families share stay hidden.
 */
class NativeArgumentChecksTest {
    private static final MemorySegment NULL = MemorySegment.NULL;

    @BeforeAll
    static void load() {
        NativeLibrary.ensureLoaded();
    }

    @Test
    void linear() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment y = floats(arena, 8);
            MemorySegment x = floats(arena, 8);
            MemorySegment w = floats(arena, 8);
            String op = "nf_linear_fwd_f32";
            assertInvalid(nnfuse_h.nf_linear_fwd_f32(NULL, x, w, NULL, 2, 2, 2), op, "y is NULL");
            assertInvalid(nnfuse_h.nf_linear_fwd_f32(y, NULL, w, NULL, 2, 2, 2), op, "x is NULL");
            assertInvalid(nnfuse_h.nf_linear_fwd_f32(y, x, NULL, NULL, 2, 2, 2), op, "weight is NULL");
            assertInvalid(nnfuse_h.nf_linear_fwd_f32(y, x, w, NULL, 0, 2, 2), op, "rows must be >= 1, got 0");
            assertInvalid(nnfuse_h.nf_linear_fwd_f32(y, x, w, NULL, 2, -1, 2), op, "in_features", "-1");
            assertInvalid(nnfuse_h.nf_linear_fwd_f32(y, x, w, NULL, 2, 2, 0), op, "out_features", "0");
            assertInvalid(nnfuse_h.nf_linear_fwd_f32(y, y.asSlice(4), w, NULL, 2, 2, 2), op, "y overlaps x");
            assertInvalid(nnfuse_h.nf_linear_fwd_f32(y, x, w, y.asSlice(4), 2, 2, 2), op, "y overlaps bias");
            assertEquals(0, nnfuse_h.nf_linear_fwd_f32(y, x, w, NULL, 2, 2, 2));
        }
    }

    @Test
    void linearLnRelu() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment y = floats(arena, 4);
            MemorySegment h = floats(arena, 4);
            MemorySegment stats = floats(arena, 4);
            MemorySegment x = floats(arena, 4);
            MemorySegment w = floats(arena, 4);
            String op = "nf_linear_ln_relu_fwd_f32";
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(NULL, h, NULL, NULL, x, w, NULL, NULL, NULL, 2, 2, 2,
                    1e-5f, 1), op, "y is NULL");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(y, h, NULL, NULL, x, NULL, NULL, NULL, NULL, 2, 2, 2,
                    1e-5f, 1), op, "weight is NULL");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(y, h, NULL, NULL, x, w, NULL, NULL, NULL, 2, 0, 2,
                    1e-5f, 1), op, "in_features must be >= 1, got 0");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(y, h, NULL, NULL, x, w, NULL, NULL, NULL, 2, 2, 2,
                    -1f, 1), op, "eps", "-1");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(y, h, NULL, NULL, x, w, NULL, NULL, NULL, 2, 2, 2,
                    Float.NaN, 1), op, "eps", "nan");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(y, h, NULL, NULL, x, w, NULL, NULL, NULL, 2, 2, 2,
                    1e-5f, 2), op, "relu must be 0 or 1, got 2");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(y, y, NULL, NULL, x, w, NULL, NULL, NULL, 2, 2, 2,
                    1e-5f, 1), op, "y overlaps h");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(y, h, NULL, NULL, h, w, NULL, NULL, NULL, 2, 2, 2,
                    1e-5f, 1), op, "h overlaps x");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_fwd_f32(y, h, stats, stats.asSlice(4), x, w, NULL, NULL, NULL,
                    2, 2, 2, 1e-5f, 1), op, "mean overlaps rstd");
            assertEquals(0, nnfuse_h.nf_linear_ln_relu_fwd_f32(y, h, stats, stats.asSlice(8), x, w, NULL, NULL,
                    NULL, 2, 2, 2, 1e-5f, 0));
        }
    }

    @Test
    void relu() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment y = floats(arena, 8);
            String op = "nf_relu_fwd_f32";
            assertInvalid(nnfuse_h.nf_relu_fwd_f32(NULL, y, 4), op, "y is NULL");
            assertInvalid(nnfuse_h.nf_relu_fwd_f32(y, NULL, 4), op, "x is NULL");
            assertInvalid(nnfuse_h.nf_relu_fwd_f32(y, y, 0), op, "n must be >= 1, got 0");
            assertInvalid(nnfuse_h.nf_relu_fwd_f32(y.asSlice(4), y, 4), op, "y overlaps x");
            assertEquals(0, nnfuse_h.nf_relu_fwd_f32(y, y, 8), "in place is allowed");
        }
    }

    @Test
    void batchNormTraining() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment y = floats(arena, 12);
            MemorySegment x = floats(arena, 12);
            MemorySegment stats = floats(arena, 8);
            MemorySegment mean = stats.asSlice(0, 16);
            MemorySegment var = stats.asSlice(16, 16);
            String op = "nf_batchnorm_fwd_train_f32";
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(NULL, NULL, NULL, NULL, NULL, x, NULL, NULL, 3, 4,
                    0f, 0.1f), op, "y is NULL");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3, 4,
                    0f, 0.1f), op, "x is NULL");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, NULL, NULL, x, NULL, NULL, 3, 0,
                    0f, 0.1f), op, "c must be >= 1, got 0");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, NULL, NULL, x, NULL, NULL, 3, 4,
                    -1f, 0.1f), op, "eps", "-1");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, NULL, NULL, x, NULL, NULL, 3, 4,
                    0f, Float.NaN), op, "momentum must be finite and in [0, 1], got nan");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, mean, NULL, x, NULL, NULL, 3, 4,
                    0f, 0.1f), op, "running_mean and running_var must both be given or both be NULL");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, mean, var, x, NULL, NULL, 1, 4,
                    0f, 0.1f), op, "Expected more than 1 value per channel when training, got input size [1, 4]");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, NULL, NULL, y.asSlice(4), NULL, NULL,
                    2, 4, 0f, 0.1f), op, "y overlaps x");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, stats.asSlice(8), NULL, mean, var, x, NULL, NULL,
                    3, 4, 0f, 0.1f), op, "save_mean overlaps running_mean");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, mean, var, x, stats.asSlice(24), NULL,
                    3, 4, 0f, 0.1f), op, "running_var overlaps gamma");
            assertEquals(0, nnfuse_h.nf_batchnorm_fwd_train_f32(y, NULL, NULL, mean, var, y, NULL, NULL, 3, 4, 0f,
                    0.1f), "in place is allowed");
        }
    }

    @Test
    void batchNormEval() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment y = floats(arena, 12);
            MemorySegment x = floats(arena, 12);
            MemorySegment stats = floats(arena, 8);
            MemorySegment mean = stats.asSlice(0, 16);
            MemorySegment var = stats.asSlice(16, 16);
            String op = "nf_batchnorm_fwd_eval_f32";
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_eval_f32(y, x, NULL, var, NULL, NULL, 3, 4, 0f), op,
                    "running_mean is NULL");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_eval_f32(y, x, mean, NULL, NULL, NULL, 3, 4, 0f), op,
                    "running_var is NULL");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_eval_f32(y, x, mean, var, NULL, NULL, -3, 4, 0f), op,
                    "n must be >= 1, got -3");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_eval_f32(y, x, mean, var, NULL, NULL, 3, 4, Float.NaN), op,
                    "eps", "nan");
            assertInvalid(nnfuse_h.nf_batchnorm_fwd_eval_f32(y, x, y.asSlice(8), var, NULL, NULL, 3, 4, 0f), op,
                    "y overlaps running_mean");
            assertEquals(0, nnfuse_h.nf_batchnorm_fwd_eval_f32(y, x, mean, var, mean, var, 1, 4, 0f),
                    "one sample is fine in eval");
            assertEquals(0, nnfuse_h.nf_batchnorm_fwd_eval_f32(y, y, mean, var, NULL, NULL, 3, 4, 0f),
                    "in place is allowed");
        }
    }

    @Test
    void sharedRoutinesStayHidden() {
        for (String internal : new String[] {"nf_gemm_nt_f32", "nf_layernorm_row_f32", "nf_relu_span_f32"}) {
            assertTrue(NativeLibrary.lookup().find(internal).isEmpty(), internal + " must not be exported");
        }
    }

    private static MemorySegment floats(Arena arena, int n) {
        return arena.allocate(ValueLayout.JAVA_FLOAT, n);
    }

    private static void assertInvalid(int status, String... fragments) {
        assertEquals(nnfuse_h.NF_ERR_INVALID_ARGUMENT(), status, "status");
        assertMessage(nnfuse_h.nf_last_error().getString(0), fragments);
    }
}
