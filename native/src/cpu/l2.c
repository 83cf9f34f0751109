/* Sum of squares for the L2 penalty lambda * ||theta||^2 (weight decay), and the penalty's gradient. */
#include <math.h>
#include <stdlib.h>

#include "../common/error.h"
#include "../common/l2.h"
#include "../common/parallel.h"

/*
 * Fixed-size chunks, independent of the thread count: each chunk is summed
 * alone, and the partial sums are added in chunk order (common/l2.h), so the
 * result is bit-identical for any number of threads.
 */
#define L2_CHUNK NF_L2_CHUNK

/* Eight double lanes: a fixed order the compiler may vectorize; squares of floats are exact in double. */
static double chunk_sum_squares(const float *x, int64_t n) {
    double lane[NF_L2_LANES] = {0};
    int64_t i = 0;
    for (; i + NF_L2_LANES <= n; i += NF_L2_LANES)
        for (int l = 0; l < NF_L2_LANES; l++) {
            const double v = x[i + l];
            lane[l] += v * v;
        }
    double sum = 0;
    for (; i < n; i++) {
        const double v = x[i];
        sum += v * v;
    }
    for (int l = 0; l < NF_L2_LANES; l++) sum += lane[l];
    return sum;
}

NF_API int32_t nf_l2_fwd_f32(double *sum_squares, const float *x, int64_t n) {
    static const char op[] = "nf_l2_fwd_f32";
    NF_CHECK_PTR(op, sum_squares);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, n);
    const int64_t chunks = (n + L2_CHUNK - 1) / L2_CHUNK;
    double *partial = malloc((size_t)chunks * sizeof *partial);
    if (partial == NULL)
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld partial sums", op, (long long)chunks);
    NF_PARALLEL_IF(chunks > 1, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t start = c * L2_CHUNK;
            const int64_t len = n - start < L2_CHUNK ? n - start : L2_CHUNK;
            partial[c] = chunk_sum_squares(x + start, len);
        }
    );
    double sum = 0;
    for (int64_t c = 0; c < chunks; c++) sum += partial[c];
    free(partial);
    *sum_squares = sum;
    return NF_OK;
}

/*
 * The gradient of lambda * ||x||^2 is 2 * lambda * x. The factor 2 * lambda is
 * exact in float (a doubling), so each element costs a product rounded once,
 * and the sum with grad rounded once: PyTorch's autograd rounds lambda * (2 * x)
 * to the same float, and .grad accumulation and SGD's weight decay
 * (grad + weight_decay * param) add in the same order. Element-wise, so any
 * split of the work gives the same bits.
 */
int32_t nf_l2_bwd_check(const char *op, const float *grad, const float *x, int64_t n, float lambda,
                        int32_t accumulate) {
    NF_CHECK_PTR(op, grad);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, n);
    if (!(lambda >= 0.0f) || isinf(lambda))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: lambda must be finite and >= 0, got %g", op, (double)lambda);
    if (accumulate != 0 && accumulate != 1)
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: accumulate must be 0 or 1, got %d", op, accumulate);
    NF_CHECK_DISJOINT(op, grad, n, x, n);
    return NF_OK;
}

NF_API int32_t nf_l2_bwd_f32(float *grad, const float *x, int64_t n, float lambda, int32_t accumulate) {
    const int32_t status = nf_l2_bwd_check("nf_l2_bwd_f32", grad, x, n, lambda, accumulate);
    if (status != NF_OK) return status;
    const float factor = 2.0f * lambda;
    if (accumulate) {
        NF_PARALLEL_IF(n >= NF_PARALLEL_MIN_WORK, nf_threads(),
            _Pragma("omp for schedule(static)")
            for (int64_t i = 0; i < n; i++) grad[i] = grad[i] + factor * x[i];
        );
    } else {
        NF_PARALLEL_IF(n >= NF_PARALLEL_MIN_WORK, nf_threads(),
            _Pragma("omp for schedule(static)")
            for (int64_t i = 0; i < n; i++) grad[i] = factor * x[i];
        );
    }
    return NF_OK;
}
