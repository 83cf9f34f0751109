/* Fully connected layer, y = x weight^T + bias, as torch.nn.functional.linear. */
#include <stddef.h>

#include "gemm.h"

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
