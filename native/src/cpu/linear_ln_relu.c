/*
 * Linear, LayerNorm and ReLU in one call: the hidden block of an MLP
 * (torch.relu(F.layer_norm(F.linear(x, weight, bias), ...))). The product of a
 * block of rows is normalized and rectified while it is still in cache, and
 * the backward pass needs only the product and the row statistics.
 */
#include <stddef.h>
#include <stdlib.h>

#include "gemm.h"
#include "layernorm.h"
#include "linear.h"
#include "relu.h"

#include "../common/error.h"
#include "../common/parallel.h"

/*
 * Bytes of products per row block: the block is normalized right after its
 * product, so it should still be in L2 (256 KiB leaves room for the operands).
 */
#define BLOCK_BYTES ((int64_t)256 * 1024)

NF_API int32_t nf_linear_ln_relu_fwd_f32(float *y, float *h, float *mean, float *rstd,
                                         const float *x, const float *weight, const float *bias,
                                         const float *gamma, const float *beta, int64_t rows,
                                         int64_t in_features, int64_t out_features, float eps,
                                         int32_t relu) {
    static const char op[] = "nf_linear_ln_relu_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    const int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;
    NF_CHECK_FLAG(op, relu);
    const int64_t out_numel = rows * out_features;
    NF_CHECK_DISJOINT(op, y, out_numel, h, out_numel);
    NF_CHECK_DISJOINT(op, y, out_numel, x, rows * in_features);
    NF_CHECK_DISJOINT(op, y, out_numel, weight, out_features * in_features);
    NF_CHECK_DISJOINT(op, h, out_numel, x, rows * in_features);
    NF_CHECK_DISJOINT(op, h, out_numel, weight, out_features * in_features);
    NF_CHECK_DISJOINT(op, mean, rows, rstd, rows);

    /* Without h the product lands in y and is normalized in place. */
    float *product = h != NULL ? h : y;
    const int64_t block_rows_by_size = BLOCK_BYTES / ((int64_t)sizeof(float) * out_features);
    const int64_t block_rows = block_rows_by_size > 1 ? block_rows_by_size : 1;

    /*
     * One team for all blocks: the product of a block is shared among the
     * threads by output tiles (so a batch of 4 still uses them all), the
     * barrier closing that work-sharing loop makes the whole rows visible,
     * and the rows are then normalized in parallel. Both steps compute each
     * element in a fixed order, so the threads do not change the result.
     */
#pragma omp parallel num_threads(nf_threads()) if (nf_gemm_worth_parallel(rows, in_features, out_features))
    for (int64_t r0 = 0; r0 < rows; r0 += block_rows) {
        const int64_t n = rows - r0 < block_rows ? rows - r0 : block_rows;
        nf_gemm_nt_f32(product + r0 * out_features, x + r0 * in_features, weight, bias, n, in_features,
                       out_features);
#pragma omp for schedule(static)
        for (int64_t r = r0; r < r0 + n; r++) {
            float *y_row = y + r * out_features;
            nf_layernorm_row_f32(y_row, mean != NULL ? mean + r : NULL, rstd != NULL ? rstd + r : NULL,
                                 product + r * out_features, gamma, beta, out_features, eps);
            if (relu) nf_relu_span_f32(y_row, y_row, out_features);
        }
    }
    return NF_OK;
}

NF_API int32_t nf_linear_ln_relu_bwd_f32(float *dx, float *dweight, float *dbias, float *dgamma, float *dbeta,
                                         const float *dy, const float *x, const float *weight, const float *h,
                                         const float *mean, const float *rstd, const float *gamma,
                                         const float *beta, int64_t rows, int64_t in_features,
                                         int64_t out_features, int32_t relu, int32_t accumulate) {
    static const char op[] = "nf_linear_ln_relu_bwd_f32";
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
    const int32_t status = nf_check_disjoint(op, outputs, 5, inputs, 8);
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
#pragma omp parallel num_threads(nf_threads()) if (parallel)
    {
#pragma omp for schedule(static)
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
        nf_linear_bwd_team_f32(dx, dweight, dbias, dh, x, weight, rows, in_features, out_features, accumulate);
    }
    free(scratch);
    return NF_OK;
}
