/* Fully connected layer, y = x weight^T + bias, as torch.nn.functional.linear, and its backward pass. */
#include <stddef.h>

#include "gemm.h"
#include "linear.h"

#include "../common/error.h"
#include "../common/parallel.h"

NF_API int32_t nf_linear_fwd_f32(float *y, const float *x, const float *weight, const float *bias,
                                 int64_t rows, int64_t in_features, int64_t out_features) {
    static const char op[] = "nf_linear_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    NF_CHECK_DISJOINT(op, y, rows * out_features, x, rows * in_features);
    NF_CHECK_DISJOINT(op, y, rows * out_features, weight, out_features * in_features);
    NF_CHECK_DISJOINT(op, y, rows * out_features, bias, out_features);

#pragma omp parallel num_threads(nf_threads()) if (nf_gemm_worth_parallel(rows, in_features, out_features))
    nf_gemm_nt_f32(y, x, weight, bias, rows, in_features, out_features);
    return NF_OK;
}

void nf_linear_bwd_team_f32(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                            const float *weight, int64_t rows, int64_t in_features, int64_t out_features,
                            int accumulate) {
    if (dx != NULL) nf_gemm_nn_f32(dx, dy, weight, rows, out_features, in_features);
    if (dweight != NULL) nf_gemm_tn_f32(dweight, dy, x, out_features, rows, in_features, accumulate);
    if (dbias != NULL) nf_gemm_column_sums_f32(dbias, dy, rows, out_features, accumulate);
}

int nf_linear_bwd_worth_parallel(int64_t rows, int64_t in_features, int64_t out_features) {
    return nf_gemm_worth_parallel(rows, out_features, in_features) ||
           nf_gemm_worth_parallel(out_features, rows, in_features);
}

NF_API int32_t nf_linear_bwd_f32(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                                 const float *weight, int64_t rows, int64_t in_features,
                                 int64_t out_features, int32_t accumulate) {
    static const char op[] = "nf_linear_bwd_f32";
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    NF_CHECK_FLAG(op, accumulate);
    const int64_t x_numel = rows * in_features;
    const int64_t weight_numel = out_features * in_features;
    const nf_span outputs[] = {NF_SPAN(dx, x_numel), NF_SPAN(dweight, weight_numel), NF_SPAN(dbias, out_features)};
    const nf_span inputs[] = {NF_SPAN(dy, rows * out_features), NF_SPAN(x, x_numel), NF_SPAN(weight, weight_numel)};
    const int32_t status = nf_check_disjoint(op, outputs, 3, inputs, 3);
    if (status != NF_OK) return status;

#pragma omp parallel num_threads(nf_threads()) if (nf_linear_bwd_worth_parallel(rows, in_features, out_features))
    nf_linear_bwd_team_f32(dx, dweight, dbias, dy, x, weight, rows, in_features, out_features, accumulate);
    return NF_OK;
}
