/*
 * Linear, LayerNorm and ReLU in one call: the hidden block of an MLP
 * (torch.relu(F.layer_norm(F.linear(x, weight, bias), ...))). The product of a
 * block of rows is normalized and rectified while it is still in cache, and
 * the backward pass needs only the product and the row statistics.
 */
#include <stddef.h>
#include <stdlib.h>

#include "dispatch.h"
#include "gemm.h"
#include "layernorm.h"
#include "linear.h"
#include "linear_ln_relu.h"
#include "relu.h"

#include "../common/error.h"
#include "../common/parallel.h"

/* What the epilogue needs to normalize and rectify rows of the product. */
typedef struct {
    float *y, *mean, *rstd;
    const float *product, *gamma, *beta;
    int64_t cols;
    float eps;
    int relu, level;
} ln_relu_rows;

/* LayerNorm, then ReLU, on rows [r0, r1) of the product, which the engine has just computed. */
static void normalize_rows(const void *context, int64_t r0, int64_t r1) {
    const ln_relu_rows *e = context;
    float *y_rows = e->y + r0 * e->cols;
    nf_layernorm_rows_f32(e->level, y_rows, e->mean != NULL ? e->mean + r0 : NULL,
                          e->rstd != NULL ? e->rstd + r0 : NULL, e->product + r0 * e->cols, e->gamma, e->beta,
                          r1 - r0, e->cols, e->eps);
    if (e->relu) nf_relu_span_f32(y_rows, y_rows, (r1 - r0) * e->cols);
}

int32_t nf_linear_ln_relu_fwd_check(const char *op, const float *y, const float *h, const float *mean,
                                    const float *rstd, const float *x, const float *weight, int packed,
                                    int64_t rows, int64_t in_features, int64_t out_features, float eps, int32_t relu,
                                    int64_t *packed_numel) {
    const char *weight_name = packed ? "packed" : "weight";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    if (weight == NULL) return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, weight_name);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    NF_CHECK_FLAG(op, relu);
    status = nf_linear_packed_numel_for(op, packed_numel, in_features, out_features);
    if (status != NF_OK) return status;
    const int64_t weight_numel = packed ? *packed_numel : out_features * in_features;
    const int64_t out_numel = rows * out_features;
    NF_CHECK_DISJOINT(op, y, out_numel, h, out_numel);
    NF_CHECK_DISJOINT(op, y, out_numel, x, rows * in_features);
    NF_CHECK_DISJOINT(op, h, out_numel, x, rows * in_features);
    if (NF_OVERLAPS(y, out_numel, weight, weight_numel))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: y overlaps %s", op, weight_name);
    if (NF_OVERLAPS(h, out_numel, weight, weight_numel))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: h overlaps %s", op, weight_name);
    NF_CHECK_DISJOINT(op, mean, rows, rstd, rows);
    return NF_OK;
}

/*
 * The forward of both entry points: weight is the weight (packed = 0), packed
 * into the scratch first, or the packed weight (packed = 1).
 */
static int32_t forward(const char *op, float *y, float *h, float *mean, float *rstd, const float *x,
                       const float *weight, int packed, const float *bias, const float *gamma, const float *beta,
                       int64_t rows, int64_t in_features, int64_t out_features, float eps, int32_t relu) {
    int64_t packed_numel;
    int32_t status = nf_linear_ln_relu_fwd_check(op, y, h, mean, rstd, x, weight, packed, rows, in_features,
                                                 out_features, eps, relu, &packed_numel);
    if (status != NF_OK) return status;
    int level;
    status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;

    const int parallel = nf_gemm_worth_parallel(rows, in_features, out_features);
    nf_gemm_workspace ws;
    status = nf_gemm_workspace_alloc(&ws, op, level, parallel ? nf_threads() : 1, rows, in_features,
                                     packed ? 0 : packed_numel, 0);
    if (status != NF_OK) return status;
    /* Without h the product lands in y and is normalized in place. */
    float *product = h != NULL ? h : y;
    const ln_relu_rows rows_context = {y, mean, rstd, product, gamma, beta, out_features, eps, relu, level};
    const nf_gemm_epilogue epilogue = {normalize_rows, &rows_context};
    const nf_gemm_operand a = {x, in_features, 1};
    if (!packed && !parallel && nf_gemm_nt_small_f32(&ws, product, x, weight, bias, rows, in_features, out_features)) {
        normalize_rows(&rows_context, 0, rows);
        nf_gemm_workspace_free(&ws);
        return NF_OK;
    }
    NF_PARALLEL_IF(parallel, ws.threads,
        if (!packed) nf_gemm_pack_weight_f32(ws.level, ws.packed_b, weight, in_features, out_features);
        nf_gemm_f32(&ws, product, a, packed ? weight : ws.packed_b, bias, rows, in_features, out_features,
                    &epilogue);
    );
    nf_gemm_workspace_free(&ws);
    return NF_OK;
}

NF_API int32_t nf_linear_ln_relu_fwd_f32(float *y, float *h, float *mean, float *rstd, const float *x,
                                         const float *weight, const float *bias, const float *gamma,
                                         const float *beta, int64_t rows, int64_t in_features,
                                         int64_t out_features, float eps, int32_t relu) {
    return forward("nf_linear_ln_relu_fwd_f32", y, h, mean, rstd, x, weight, 0, bias, gamma, beta, rows,
                   in_features, out_features, eps, relu);
}

NF_API int32_t nf_linear_ln_relu_packed_fwd_f32(float *y, float *h, float *mean, float *rstd, const float *x,
                                                const float *packed, const float *bias, const float *gamma,
                                                const float *beta, int64_t rows, int64_t in_features,
                                                int64_t out_features, float eps, int32_t relu) {
    return forward("nf_linear_ln_relu_packed_fwd_f32", y, h, mean, rstd, x, packed, 1, bias, gamma, beta, rows,
                   in_features, out_features, eps, relu);
}

int32_t nf_linear_ln_relu_bwd_check(const char *op, const float *dx, const float *dweight, const float *dbias,
                                    const float *dgamma, const float *dbeta, const float *dy, const float *x,
                                    const float *weight, const float *h, const float *mean, const float *rstd,
                                    const float *gamma, const float *beta, int64_t rows, int64_t in_features,
                                    int64_t out_features, int32_t relu, int32_t accumulate) {
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_PTR(op, h);
    NF_CHECK_PTR(op, mean);
    NF_CHECK_PTR(op, rstd);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    NF_CHECK_FLAG(op, relu);
    NF_CHECK_FLAG(op, accumulate);
    const int64_t out_numel = rows * out_features;
    const int64_t x_numel = rows * in_features;
    const int64_t weight_numel = out_features * in_features;
    const nf_span outputs[] = {NF_SPAN(dx, x_numel), NF_SPAN(dweight, weight_numel), NF_SPAN(dbias, out_features),
                               NF_SPAN(dgamma, out_features), NF_SPAN(dbeta, out_features)};
    const nf_span inputs[] = {NF_SPAN(dy, out_numel), NF_SPAN(x, x_numel), NF_SPAN(weight, weight_numel),
                              NF_SPAN(h, out_numel), NF_SPAN(mean, rows), NF_SPAN(rstd, rows),
                              NF_SPAN(gamma, out_features), NF_SPAN(beta, out_features)};
    return nf_check_disjoint(op, outputs, 5, inputs, 8);
}

NF_API int32_t nf_linear_ln_relu_bwd_f32(float *dx, float *dweight, float *dbias, float *dgamma, float *dbeta,
                                         const float *dy, const float *x, const float *weight, const float *h,
                                         const float *mean, const float *rstd, const float *gamma,
                                         const float *beta, int64_t rows, int64_t in_features,
                                         int64_t out_features, int32_t relu, int32_t accumulate) {
    static const char op[] = "nf_linear_ln_relu_bwd_f32";
    int32_t status = nf_linear_ln_relu_bwd_check(op, dx, dweight, dbias, dgamma, dbeta, dy, x, weight, h, mean, rstd,
                                                 gamma, beta, rows, in_features, out_features, relu, accumulate);
    if (status != NF_OK) return status;
    const int64_t out_numel = rows * out_features;
    int level;
    status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;

    /* dh, the gradient of the product, and the low parts of the row means. */
    float *scratch = malloc(sizeof(float) * (size_t)(out_numel + rows));
    if (scratch == NULL)
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld floats of scratch", op,
                       (long long)(out_numel + rows));
    float *dh = scratch;
    float *mean_lo = scratch + out_numel;

    /*
     * Each step is a routine of the unfused ops, in their order: the ReLU
     * mask (from y recomputed bit for bit as the forward computed it, so it
     * is the forward's mask), LayerNorm's backward pass in place in dh, then
     * Linear's. The routines' work-sharing loops end in barriers, so each
     * step sees the whole result of the one before.
     */
    const int parallel = nf_linear_bwd_worth_parallel(rows, in_features, out_features) ||
                         out_numel >= NF_PARALLEL_MIN_WORK;
    nf_gemm_workspace ws;
    status = nf_linear_bwd_workspace_alloc(&ws, op, level, parallel ? nf_threads() : 1, rows, in_features,
                                           out_features, accumulate);
    if (status != NF_OK) {
        free(scratch);
        return status;
    }
    NF_PARALLEL_IF(parallel, ws.threads,
        _Pragma("omp for schedule(static)")
        for (int64_t r = 0; r < rows; r++) {
            const float *h_row = h + r * out_features;
            mean_lo[r] = nf_layernorm_mean_lo_f32(h_row, out_features, mean[r]);
            if (relu) {
                float *dh_row = dh + r * out_features;
                nf_layernorm_apply_row_f32(dh_row, h_row, mean[r], mean_lo[r], rstd[r], gamma, beta, out_features);
                nf_relu_bwd_span_f32(dh_row, dy + r * out_features, dh_row, out_features);
            }
        }
        nf_layernorm_bwd_team_f32(dh, dgamma, dbeta, relu ? dh : dy, h, mean, mean_lo, rstd, gamma, rows,
                                  out_features, accumulate);
        nf_linear_bwd_team_f32(&ws, dx, dweight, dbias, dh, x, weight, rows, in_features, out_features, accumulate);
    );
    nf_gemm_workspace_free(&ws);
    free(scratch);
    return NF_OK;
}
