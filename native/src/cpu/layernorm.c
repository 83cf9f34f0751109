/* LayerNorm over the last dimension of x[rows, cols] (Ba et al., 2016). */
#include <math.h>
#include <stddef.h>

#include "layernorm.h"

#include "../common/error.h"
#include "../common/parallel.h"

/*
 * Mean and biased variance of one row, in double, by two passes over it: the row is in
 * cache for the second pass, and subtracting the mean first keeps the
 * variance accurate when |mean| >> spread, where E[x^2] - E[x]^2 in float
 * would cancel catastrophically. Eight double lanes give a fixed summation
 * order (deterministic) that the compiler can still vectorize.
 */
static void row_moments(const float *x, int64_t n, double *mean_out, double *var_out) {
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += x[i + l];
    double sum = 0;
    for (; i < n; i++) sum += x[i];
    for (int l = 0; l < 8; l++) sum += lane[l];
    const double mean = sum / (double)n;

    double sq[8] = {0};
    i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            const double d = x[i + l] - mean;
            sq[l] += d * d;
        }
    double ss = 0;
    for (; i < n; i++) {
        const double d = x[i] - mean;
        ss += d * d;
    }
    for (int l = 0; l < 8; l++) ss += sq[l];
    *mean_out = mean;
    *var_out = ss / (double)n;
}

void nf_layernorm_row_f32(float *y, float *mean_out, float *rstd_out, const float *x,
                          const float *gamma, const float *beta, int64_t cols, float eps) {
    double mean_d, var_d;
    row_moments(x, cols, &mean_d, &var_d);
    /*
     * The mean as a float pair (hi + lo): x - hi is exact when x is within a
     * factor of two of hi (Sterbenz), so a large mean costs no accuracy in x - mean.
     */
    const float mean = (float)mean_d;
    const float mean_lo = (float)(mean_d - (double)mean);
    const float rstd = (float)(1.0 / sqrt(var_d + (double)eps));
    for (int64_t j = 0; j < cols; j++) {
        float v = ((x[j] - mean) - mean_lo) * rstd;
        if (gamma != NULL) v *= gamma[j];
        if (beta != NULL) v += beta[j];
        y[j] = v;
    }
    if (mean_out != NULL) *mean_out = mean;
    if (rstd_out != NULL) *rstd_out = rstd;
}

int32_t nf_layernorm_check_eps(const char *op, float eps) {
    if (!(eps >= 0.0f) || isinf(eps))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: eps must be finite and >= 0, got %g", op,
                       (double)eps);
    return NF_OK;
}

NF_API int32_t nf_layernorm_fwd_f32(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta, int64_t rows,
                                    int64_t cols, float eps) {
    static const char op[] = "nf_layernorm_fwd_f32";
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    const int32_t status = nf_layernorm_check_eps(op, eps);
    if (status != NF_OK) return status;

    const int parallel = rows > 1 && rows * cols >= NF_PARALLEL_MIN_WORK;
#pragma omp parallel for schedule(static) num_threads(nf_threads()) if (parallel)
    for (int64_t r = 0; r < rows; r++)
        nf_layernorm_row_f32(y + r * cols, mean ? mean + r : NULL, rstd ? rstd + r : NULL,
                             x + r * cols, gamma, beta, cols, eps);
    return NF_OK;
}
