/* Index of the largest element of each row of x[rows, cols], as torch.argmax(x, dim=-1). */
#include <math.h>
#include <stddef.h>

#include "../common/error.h"
#include "../common/parallel.h"
#include "argmax.h"

/*
 * Strict > keeps the first of equal maxima; a NaN is taken as larger than
 * everything and ends the search, so the first NaN wins (torch.argmax's rule).
 */
static int64_t row_argmax(const float *x, int64_t cols) {
    int64_t best = 0;
    if (isnan(x[0])) return 0;
    for (int64_t j = 1; j < cols; j++) {
        if (isnan(x[j])) return j;
        if (x[j] > x[best]) best = j;
    }
    return best;
}

int32_t nf_argmax_fwd_check(const char *op, const int64_t *index, const float *x, int64_t rows, int64_t cols) {
    NF_CHECK_PTR(op, index);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    return NF_OK;
}

NF_API int32_t nf_argmax_fwd_f32(int64_t *index, const float *x, int64_t rows, int64_t cols) {
    const int32_t status = nf_argmax_fwd_check("nf_argmax_fwd_f32", index, x, rows, cols);
    if (status != NF_OK) return status;
    const int parallel = rows > 1 && rows * cols >= NF_PARALLEL_MIN_WORK;
    NF_PARALLEL_IF(parallel, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t r = 0; r < rows; r++) index[r] = row_argmax(x + r * cols, cols);
    );
    return NF_OK;
}
