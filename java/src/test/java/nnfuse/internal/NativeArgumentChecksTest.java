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
 * The C entry points of the linear, LayerNorm, ReLU and BatchNorm families check their own arguments (the Java
 * ops never let these reach them): each bad argument returns NF_ERR_INVALID_ARGUMENT with a message naming the
 * function and the argument; a backward pass whose scratch cannot be allocated returns NF_ERR_OUT_OF_MEMORY;
 * and the internal routines the families share stay hidden.
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
    void linearBackward() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment grads = floats(arena, 16);
            MemorySegment dy = floats(arena, 4);
            MemorySegment x = floats(arena, 4);
            MemorySegment w = floats(arena, 4);
            MemorySegment dx = grads.asSlice(0, 16);
            MemorySegment dw = grads.asSlice(16, 16);
            MemorySegment db = grads.asSlice(32, 8);
            String op = "nf_linear_bwd_f32";
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dx, dw, db, NULL, x, w, 2, 2, 2, 0), op, "dy is NULL");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dx, dw, db, dy, NULL, w, 2, 2, 2, 0), op, "x is NULL");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dx, dw, db, dy, x, NULL, 2, 2, 2, 0), op, "weight is NULL");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dx, dw, db, dy, x, w, 0, 2, 2, 0), op, "rows must be >= 1, got 0");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dx, dw, db, dy, x, w, 2, 2, -2, 0), op, "out_features", "-2");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dx, dw, db, dy, x, w, 2, 2, 2, 2), op,
                    "accumulate must be 0 or 1, got 2");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dy, dw, db, dy, x, w, 2, 2, 2, 0), op, "dx overlaps dy");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dx, x, db, dy, x, w, 2, 2, 2, 0), op, "dweight overlaps x");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(dx, grads.asSlice(8), NULL, dy, x, w, 2, 2, 2, 0), op,
                    "dx overlaps dweight");
            assertInvalid(nnfuse_h.nf_linear_bwd_f32(NULL, NULL, w.asSlice(8), dy, x, w, 2, 2, 2, 0), op,
                    "dbias overlaps weight");
            assertEquals(0, nnfuse_h.nf_linear_bwd_f32(dx, dw, db, dy, x, w, 2, 2, 2, 1));
            assertEquals(0, nnfuse_h.nf_linear_bwd_f32(NULL, NULL, NULL, dy, x, w, 2, 2, 2, 0), "no gradient wanted");
        }
    }

    @Test
    void layerNormBackward() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dx = floats(arena, 4);
            MemorySegment params = floats(arena, 4);
            MemorySegment dy = floats(arena, 4);
            MemorySegment x = floats(arena, 4);
            MemorySegment stats = floats(arena, 4);
            MemorySegment mean = stats.asSlice(0, 8);
            MemorySegment rstd = stats.asSlice(8, 8);
            MemorySegment dgamma = params.asSlice(0, 8);
            MemorySegment dbeta = params.asSlice(8, 8);
            String op = "nf_layernorm_bwd_f32";
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(dx, dgamma, dbeta, NULL, x, mean, rstd, NULL, 2, 2, 0), op,
                    "dy is NULL");
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(dx, dgamma, dbeta, dy, x, NULL, rstd, NULL, 2, 2, 0), op,
                    "mean is NULL");
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(dx, dgamma, dbeta, dy, x, mean, NULL, NULL, 2, 2, 0), op,
                    "rstd is NULL");
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(dx, dgamma, dbeta, dy, x, mean, rstd, NULL, 2, 0, 0), op,
                    "cols must be >= 1, got 0");
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(dx, dgamma, dbeta, dy, x, mean, rstd, NULL, 2, 2, -1), op,
                    "accumulate must be 0 or 1, got -1");
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(x, dgamma, dbeta, dy, x, mean, rstd, NULL, 2, 2, 0), op,
                    "dx overlaps x");
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(dx, params.asSlice(4), dbeta, dy, x, mean, rstd, NULL, 2, 2,
                    0), op, "dgamma overlaps dbeta");
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(dx, NULL, dbeta, dy, x, mean, rstd, dbeta, 2, 2, 0), op,
                    "dbeta overlaps gamma");
            assertInvalid(nnfuse_h.nf_layernorm_bwd_f32(dx, rstd, NULL, dy, x, mean, rstd, NULL, 2, 2, 0), op,
                    "dgamma overlaps rstd");
            assertEquals(0, nnfuse_h.nf_layernorm_bwd_f32(dx, dgamma, dbeta, dy, x, mean, rstd, NULL, 2, 2, 1));
        }
    }

    @Test
    void reluBackward() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dx = floats(arena, 8);
            MemorySegment y = floats(arena, 4);
            String op = "nf_relu_bwd_f32";
            assertInvalid(nnfuse_h.nf_relu_bwd_f32(NULL, dx, y, 4), op, "dx is NULL");
            assertInvalid(nnfuse_h.nf_relu_bwd_f32(dx, NULL, y, 4), op, "dy is NULL");
            assertInvalid(nnfuse_h.nf_relu_bwd_f32(dx, dx, NULL, 4), op, "y is NULL");
            assertInvalid(nnfuse_h.nf_relu_bwd_f32(dx, dx, y, 0), op, "n must be >= 1, got 0");
            assertInvalid(nnfuse_h.nf_relu_bwd_f32(dx.asSlice(4), dx, y, 4), op, "dx overlaps dy");
            assertInvalid(nnfuse_h.nf_relu_bwd_f32(y, dx, y, 4), op, "dx overlaps y");
            assertEquals(0, nnfuse_h.nf_relu_bwd_f32(dx, dx, y, 4), "in place is allowed");
        }
    }

    @Test
    void linearLnReluBackward() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dx = floats(arena, 4);
            MemorySegment dw = floats(arena, 4);
            MemorySegment params = floats(arena, 6);
            MemorySegment dy = floats(arena, 4);
            MemorySegment x = floats(arena, 4);
            MemorySegment w = floats(arena, 4);
            MemorySegment h = floats(arena, 4);
            MemorySegment stats = floats(arena, 4);
            MemorySegment mean = stats.asSlice(0, 8);
            MemorySegment rstd = stats.asSlice(8, 8);
            MemorySegment db = params.asSlice(0, 8);
            MemorySegment dgamma = params.asSlice(8, 8);
            MemorySegment dbeta = params.asSlice(16, 8);
            String op = "nf_linear_ln_relu_bwd_f32";
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, db, dgamma, dbeta, dy, x, w, NULL, mean, rstd,
                    NULL, NULL, 2, 2, 2, 1, 0), op, "h is NULL");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, db, dgamma, dbeta, dy, x, w, h, mean, NULL,
                    NULL, NULL, 2, 2, 2, 1, 0), op, "rstd is NULL");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, db, dgamma, dbeta, dy, x, w, h, mean, rstd,
                    NULL, NULL, 2, 0, 2, 1, 0), op, "in_features must be >= 1, got 0");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, db, dgamma, dbeta, dy, x, w, h, mean, rstd,
                    NULL, NULL, 2, 2, 2, 2, 0), op, "relu must be 0 or 1, got 2");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, db, dgamma, dbeta, dy, x, w, h, mean, rstd,
                    NULL, NULL, 2, 2, 2, 0, 3), op, "accumulate must be 0 or 1, got 3");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(h, dw, db, dgamma, dbeta, dy, x, w, h, mean, rstd,
                    NULL, NULL, 2, 2, 2, 1, 0), op, "dx overlaps h");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, params.asSlice(4), dgamma, dbeta, dy, x, w, h,
                    mean, rstd, NULL, NULL, 2, 2, 2, 1, 0), op, "dbias overlaps dgamma");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, db, dgamma, dbeta, dy, x, w, h, mean, rstd,
                    NULL, dbeta, 2, 2, 2, 1, 0), op, "dbeta overlaps beta");
            assertInvalid(nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, db, dgamma, stats.asSlice(4), dy, x, w, h,
                    mean, rstd, NULL, NULL, 2, 2, 2, 1, 0), op, "dbeta overlaps mean");
            assertEquals(0, nnfuse_h.nf_linear_ln_relu_bwd_f32(dx, dw, db, dgamma, dbeta, dy, x, w, h, mean, rstd,
                    NULL, NULL, 2, 2, 2, 1, 1));
        }
    }

    /** 2^50 rows: the scratch (one or two floats a row) cannot be allocated, and nothing is read before that. */
    @Test
    void scratchThatCannotBeAllocatedIsReported() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = floats(arena, 4);
            long rows = 1L << 50;
            assertEquals(nnfuse_h.NF_ERR_OUT_OF_MEMORY(), nnfuse_h.nf_layernorm_bwd_f32(NULL, NULL, NULL, a, a, a, a,
                    NULL, rows, 1, 0));
            assertMessage(nnfuse_h.nf_last_error().getString(0), "nf_layernorm_bwd_f32", "cannot allocate");
            assertEquals(nnfuse_h.NF_ERR_OUT_OF_MEMORY(), nnfuse_h.nf_linear_ln_relu_bwd_f32(NULL, NULL, NULL, NULL,
                    NULL, a, a, a, a, a, a, NULL, NULL, rows, 1, 1, 1, 0));
            assertMessage(nnfuse_h.nf_last_error().getString(0), "nf_linear_ln_relu_bwd_f32", "cannot allocate");
        }
    }

    @Test
    void sharedRoutinesStayHidden() {
        for (String internal : new String[] {"nf_gemm_nt_f32", "nf_gemm_nn_f32", "nf_gemm_tn_f32",
            "nf_gemm_column_sums_f32", "nf_layernorm_row_f32", "nf_layernorm_apply_row_f32", "nf_layernorm_mean_lo_f32",
            "nf_layernorm_bwd_team_f32", "nf_linear_bwd_team_f32", "nf_relu_span_f32", "nf_relu_bwd_span_f32",
            "nf_check_disjoint"}) {
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
