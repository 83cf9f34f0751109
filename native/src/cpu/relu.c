/* ReLU, max(x, 0) element-wise (Nair & Hinton, 2010), and its backward pass. */
#include "relu.h"

#include <stddef.h>

#include "../common/error.h"
#include "../common/parallel.h"

/*
 * `x <= 0 ? 0 : x` rather than fmaxf: a NaN compares false and passes through,
 * as torch.relu keeps it, and the select compiles to vector compare-and-mask.
 */
void nf_relu_span_f32(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] <= 0.0f ? 0.0f : x[i];
}

/*
 * PyTorch's threshold_backward(grad, result, 0): `y <= 0 ? 0 : dy` on the
 * forward output, so a NaN output (NaN <= 0 is false) passes its gradient on.
 * Element-wise, each y[i] read before dx[i] is written, so dx may be dy or y.
 */
void nf_relu_bwd_span_f32(float *dx, const float *dy, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
}

/* Elements per parallel chunk: a multiple of any vector width. */
#define RELU_CHUNK ((int64_t)1 << 14)

int32_t nf_relu_fwd_check(const char *op, const float *y, const float *x, int64_t n) {
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, n);
    if (y != x) NF_CHECK_DISJOINT(op, y, n, x, n);
    return NF_OK;
}

int32_t nf_relu_bwd_check(const char *op, const float *dx, const float *dy, const float *y, int64_t n) {
    NF_CHECK_PTR(op, dx);
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, y);
    NF_CHECK_POSITIVE(op, n);
    if (dx != dy) NF_CHECK_DISJOINT(op, dx, n, dy, n);
    NF_CHECK_DISJOINT(op, dx, n, y, n);
    return NF_OK;
}

NF_API int32_t nf_relu_fwd_f32(float *y, const float *x, int64_t n) {
    const int32_t status = nf_relu_fwd_check("nf_relu_fwd_f32", y, x, n);
    if (status != NF_OK) return status;

    const int64_t chunks = (n + RELU_CHUNK - 1) / RELU_CHUNK;
    NF_PARALLEL_IF(n >= NF_PARALLEL_MIN_WORK, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t begin = c * RELU_CHUNK;
            const int64_t len = n - begin < RELU_CHUNK ? n - begin : RELU_CHUNK;
            nf_relu_span_f32(y + begin, x + begin, len);
        }
    );
    return NF_OK;
}

NF_API int32_t nf_relu_bwd_f32(float *dx, const float *dy, const float *y, int64_t n) {
    const int32_t status = nf_relu_bwd_check("nf_relu_bwd_f32", dx, dy, y, n);
    if (status != NF_OK) return status;

    const int64_t chunks = (n + RELU_CHUNK - 1) / RELU_CHUNK;
    NF_PARALLEL_IF(n >= NF_PARALLEL_MIN_WORK, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t begin = c * RELU_CHUNK;
            const int64_t len = n - begin < RELU_CHUNK ? n - begin : RELU_CHUNK;
            nf_relu_bwd_span_f32(dx + begin, dy + begin, y + begin, len);
        }
    );
    return NF_OK;
}
