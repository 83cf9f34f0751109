/* Fully connected layer, y = x weight^T + bias, as torch.nn.functional.linear, and its backward pass. */
#include <stddef.h>

#include "dispatch.h"
#include "gemm.h"
#include "linear.h"

#include "../common/error.h"
#include "../common/parallel.h"

int32_t nf_linear_packed_numel_for(const char *op, int64_t *numel, int64_t in_features, int64_t out_features) {
    *numel = nf_gemm_packed_numel(in_features, out_features);
    if (*numel < 0)
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: a packed weight of %lld x %lld floats is too large", op,
                       (long long)out_features, (long long)in_features);
    return NF_OK;
}

int32_t nf_linear_fwd_check(const char *op, const float *y, const float *x, const float *weight, int packed,
                            const float *bias, int64_t rows, int64_t in_features, int64_t out_features) {
    const char *weight_name = packed ? "packed" : "weight";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    if (weight == NULL) return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, weight_name);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    int64_t weight_numel = out_features * in_features;
    if (packed) {
        const int32_t status = nf_linear_packed_numel_for(op, &weight_numel, in_features, out_features);
        if (status != NF_OK) return status;
    }
    NF_CHECK_DISJOINT(op, y, rows * out_features, x, rows * in_features);
    if (NF_OVERLAPS(y, rows * out_features, weight, weight_numel))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: y overlaps %s", op, weight_name);
    NF_CHECK_DISJOINT(op, y, rows * out_features, bias, out_features);
    return NF_OK;
}

int32_t nf_linear_bwd_check(const char *op, const float *dx, const float *dweight, const float *dbias,
                            const float *dy, const float *x, const float *weight, int64_t rows, int64_t in_features,
                            int64_t out_features, int32_t accumulate) {
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
    return nf_check_disjoint(op, outputs, 3, inputs, 3);
}

/* y = x b + bias with b the packed weight, or the weight packed first into the scratch when packed is NULL. */
static int32_t forward(const char *op, float *y, const float *x, const float *weight, const float *packed,
                       const float *bias, int64_t rows, int64_t in_features, int64_t out_features) {
    int level;
    int32_t status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;
    int64_t packed_numel = 0;
    if (packed == NULL) {
        status = nf_linear_packed_numel_for(op, &packed_numel, in_features, out_features);
        if (status != NF_OK) return status;
    }
    const int parallel = nf_gemm_worth_parallel(rows, in_features, out_features);
    nf_gemm_workspace ws;
    status = nf_gemm_workspace_alloc(&ws, op, level, parallel ? nf_threads() : 1, rows, in_features, packed_numel, 0);
    if (status != NF_OK) return status;
    const nf_gemm_operand a = {x, in_features, 1};
    const int small = packed == NULL && !parallel &&
                      nf_gemm_nt_small_f32(&ws, y, x, weight, bias, rows, in_features, out_features);
    if (!small) {
        NF_PARALLEL_IF(parallel, ws.threads,
            if (packed == NULL) nf_gemm_pack_weight_f32(ws.level, ws.packed_b, weight, in_features, out_features);
            nf_gemm_f32(&ws, y, a, packed != NULL ? packed : ws.packed_b, bias, rows, in_features, out_features,
                        NULL);
        );
    }
    nf_gemm_workspace_free(&ws);
    return NF_OK;
}

NF_API int32_t nf_linear_fwd_f32(float *y, const float *x, const float *weight, const float *bias,
                                 int64_t rows, int64_t in_features, int64_t out_features) {
    static const char op[] = "nf_linear_fwd_f32";
    const int32_t status = nf_linear_fwd_check(op, y, x, weight, 0, bias, rows, in_features, out_features);
    if (status != NF_OK) return status;
    return forward(op, y, x, weight, NULL, bias, rows, in_features, out_features);
}

NF_API int32_t nf_linear_packed_numel(int64_t *numel, int64_t in_features, int64_t out_features) {
    static const char op[] = "nf_linear_packed_numel";
    NF_CHECK_PTR(op, numel);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    return nf_linear_packed_numel_for(op, numel, in_features, out_features);
}

NF_API int32_t nf_linear_pack_f32(float *packed, const float *weight, int64_t in_features, int64_t out_features) {
    static const char op[] = "nf_linear_pack_f32";
    NF_CHECK_PTR(op, packed);
    NF_CHECK_PTR(op, weight);
    NF_CHECK_POSITIVE(op, in_features);
    NF_CHECK_POSITIVE(op, out_features);
    int64_t numel;
    int32_t status = nf_linear_packed_numel_for(op, &numel, in_features, out_features);
    if (status != NF_OK) return status;
    NF_CHECK_DISJOINT(op, packed, numel, weight, out_features * in_features);
    int level;
    status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;
    /* A copy: worth a team only when it is large. */
    NF_PARALLEL_IF(numel >= NF_PARALLEL_MIN_WORK * 8, nf_threads(),
        nf_gemm_pack_weight_f32(level, packed, weight, in_features, out_features);
    );
    return NF_OK;
}

NF_API int32_t nf_linear_packed_fwd_f32(float *y, const float *x, const float *packed, const float *bias,
                                        int64_t rows, int64_t in_features, int64_t out_features) {
    static const char op[] = "nf_linear_packed_fwd_f32";
    const int32_t status = nf_linear_fwd_check(op, y, x, packed, 1, bias, rows, in_features, out_features);
    if (status != NF_OK) return status;
    return forward(op, y, x, NULL, packed, bias, rows, in_features, out_features);
}

int32_t nf_linear_bwd_workspace_alloc(nf_gemm_workspace *ws, const char *op, int level, int threads, int64_t rows,
                                      int64_t in_features, int64_t out_features, int accumulate) {
    /* dx = dy weight packs the weight's rows (inner = out_features), dweight = dy^T x the rows of x (inner = rows). */
    const int64_t dx_b = nf_gemm_packed_numel(out_features, in_features);
    const int64_t dweight_b = nf_gemm_packed_numel(rows, in_features);
    if (dx_b < 0 || dweight_b < 0)
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: the scratch of %lld x %lld products is too large", op,
                       (long long)(rows > out_features ? rows : out_features), (long long)in_features);
    const int64_t max_rows = rows > out_features ? rows : out_features;
    return nf_gemm_workspace_alloc(ws, op, level, threads, max_rows, max_rows, dx_b > dweight_b ? dx_b : dweight_b,
                                   accumulate);
}

void nf_linear_bwd_team_f32(const nf_gemm_workspace *ws, float *dx, float *dweight, float *dbias, const float *dy,
                            const float *x, const float *weight, int64_t rows, int64_t in_features,
                            int64_t out_features, int accumulate) {
    if (dx != NULL) nf_gemm_nn_f32(ws, dx, dy, weight, rows, out_features, in_features);
    if (dweight != NULL) nf_gemm_tn_f32(ws, dweight, dy, x, out_features, rows, in_features, accumulate);
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
    int32_t status = nf_linear_bwd_check(op, dx, dweight, dbias, dy, x, weight, rows, in_features, out_features,
                                         accumulate);
    if (status != NF_OK) return status;
    int level;
    status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;

    const int parallel = nf_linear_bwd_worth_parallel(rows, in_features, out_features);
    nf_gemm_workspace ws;
    status = nf_linear_bwd_workspace_alloc(&ws, op, level, parallel ? nf_threads() : 1, rows, in_features,
                                           out_features, accumulate);
    if (status != NF_OK) return status;
    NF_PARALLEL_IF(parallel, ws.threads,
        nf_linear_bwd_team_f32(&ws, dx, dweight, dbias, dy, x, weight, rows, in_features, out_features, accumulate);
    );
    nf_gemm_workspace_free(&ws);
    return NF_OK;
}
