/*
 * Softmax and log-softmax over the last dimension of x[rows, cols], stabilized
 * by the row maximum: softmax(x) = softmax(x - max), so every exponent is <= 0
 * and nothing overflows whatever the logits (Goodfellow et al., Deep Learning, 4.1).
 */
#include <math.h>
#include <stddef.h>

#include "../common/error.h"
#include "../common/parallel.h"
#include "../common/softmax.h"
#include "softmax.h"

float nf_row_max(const float *x, int64_t n) {
    float m = x[0];
    for (int64_t j = 1; j < n; j++)
        if (x[j] > m || isnan(x[j])) m = x[j];
    /* Once m is NaN no comparison replaces it, so any NaN in the row wins. */
    return m;
}

/*
 * Eight double lanes give a fixed summation order (deterministic) whatever the
 * vector width. Double rather than float: the terms lie in (0, 1] and the sum
 * in [1, n], so a float sum of 4097 terms could lose ~log2(4097) bits to
 * rounding, while in double the only errors left are the terms' own.
 */
double nf_row_exp_sum(float *e, const float *x, int64_t n, float max) {
    double lane[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) {
            const double v = nf_exp_shifted(x[j + l], max);
            if (e != NULL) e[j + l] = (float)v;
            lane[l] += v;
        }
    double sum = 0;
    for (; j < n; j++) {
        const double v = nf_exp_shifted(x[j], max);
        if (e != NULL) e[j] = (float)v;
        sum += v;
    }
    for (int l = 0; l < 8; l++) sum += lane[l];
    return sum;
}

/*
 * The exponentials are stored in y on the way (one rounding to float) and
 * scaled by 1 / sum in double (one more), so each output is within about
 * two ulps of the exact probability.
 * A row of -inf only has max = -inf, x - max = NaN and sum NaN: NaN out, as PyTorch.
 */
static void softmax_row(float *y, const float *x, int64_t cols) {
    const float max = nf_row_max(x, cols);
    const double inv = 1.0 / nf_row_exp_sum(y, x, cols, max);
    for (int64_t j = 0; j < cols; j++) y[j] = (float)(y[j] * inv);
}

/*
 * x - max - log(sum) in double, rounded once: the difference of two floats
 * is exact in double unless their exponents are far apart, so the result is
 * accurate to about one float rounding of its magnitude plus log's error.
 * log in double (not logf) because the sum is a double.
 */
static void log_softmax_row(float *y, const float *x, int64_t cols) {
    const float max = nf_row_max(x, cols);
    const double lse = log(nf_row_exp_sum(NULL, x, cols, max));
    for (int64_t j = 0; j < cols; j++) y[j] = (float)(((double)x[j] - (double)max) - lse);
}

typedef void (*row_fn)(float *y, const float *x, int64_t cols);

static int32_t run_rows(const char *op, row_fn row, float *y, const float *x, int64_t rows,
                        int64_t cols) {
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    const int parallel = rows > 1 && rows * cols >= NF_PARALLEL_MIN_WORK;
    NF_PARALLEL_IF(parallel, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t r = 0; r < rows; r++) row(y + r * cols, x + r * cols, cols);
    );
    return NF_OK;
}

NF_API int32_t nf_softmax_fwd_f32(float *y, const float *x, int64_t rows, int64_t cols) {
    return run_rows("nf_softmax_fwd_f32", softmax_row, y, x, rows, cols);
}

NF_API int32_t nf_log_softmax_fwd_f32(float *y, const float *x, int64_t rows, int64_t cols) {
    return run_rows("nf_log_softmax_fwd_f32", log_softmax_row, y, x, rows, cols);
}
