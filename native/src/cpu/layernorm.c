/* LayerNorm over the last dimension of x[rows, cols] (Ba et al., 2016), forward and backward. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "gemm.h"
#include "layernorm.h"

#include "../common/error.h"
#include "../common/parallel.h"

#if NF_HAVE_X86_LEVELS
#include <immintrin.h>
#endif

/*
 * Partial sums per row: sixteen lanes of doubles, four vectors of four (four
 * AVX2 registers, eight SSE2 ones). Lane l takes every sixteenth element from
 * the l-th, a fixed summation order (deterministic, the same at every level)
 * with enough independent additions to hide their latency; the lanes are then
 * added pairwise, lane l with lane l + w for w = 8, 4, 2, 1, as the vectors
 * halve, and the tail's sum last.
 */
typedef double lanes4 __attribute__((vector_size(4 * sizeof(double))));
typedef float floats4 __attribute__((vector_size(4 * sizeof(float))));

#define LANES 16

/* Four floats from x (any alignment); widened with __builtin_convertvector where used. */
static inline __attribute__((always_inline)) floats4 load4(const float *x) {
    floats4 f;
    memcpy(&f, x, sizeof f);
    return f;
}

/*
 * Four floats from x widened to double (exact at every level). GCC 12 lowers
 * __builtin_convertvector from four floats to four doubles as two halves
 * joined again, so the x86 levels pass their own, one vcvtps2pd. Written
 * through a pointer: a vector return value would change the ABI between
 * levels (-Wpsabi), and these are always inlined anyway.
 */
typedef void widen4_fn(lanes4 *out, const float *x);

static inline __attribute__((always_inline)) void widen4(lanes4 *out, const float *x) {
    *out = __builtin_convertvector(load4(x), lanes4);
}

#if NF_HAVE_X86_LEVELS
NF_TARGET_AVX2 static inline __attribute__((always_inline)) void widen4_avx2(lanes4 *out, const float *x) {
    *out = (lanes4)_mm256_cvtps_pd(_mm_loadu_ps(x));
}
#endif

static inline __attribute__((always_inline)) double lanes_sum(const lanes4 lane[4], double tail) {
    const lanes4 v = (lane[0] + lane[2]) + (lane[1] + lane[3]);
    return ((v[0] + v[2]) + (v[1] + v[3])) + tail;
}

/*
 * Rows summed side by side: the additions of a row form LANES / 4 chains of
 * dependent vector additions, whose latency a row of a few hundred elements
 * cannot hide; a second row's chains run between them. Each row's sums are
 * still its own, in its own order, so the bits do not depend on its partner.
 */
#define ROWS_TOGETHER 2

/*
 * The means of `count` (<= ROWS_TOGETHER) rows of n elements, ld apart, each
 * summed in double in LANES lanes. The backward pass sums a row again in
 * this same order to recover the forward's mean.
 */
static inline __attribute__((always_inline)) void rows_mean(const int count, const float *x, int64_t ld, int64_t n,
                                                            widen4_fn *widen, double *mean) {
    lanes4 lane[ROWS_TOGETHER][4] = {{{0}}};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int r = 0; r < count; r++)
            for (int v = 0; v < 4; v++) {
                lanes4 w;
                widen(&w, x + r * ld + i + 4 * v);
                lane[r][v] += w;
            }
    for (int r = 0; r < count; r++) {
        double tail = 0;
        for (int64_t k = i; k < n; k++) tail += x[r * ld + k];
        mean[r] = lanes_sum(lane[r], tail) / (double)n;
    }
}

/*
 * Means and biased variances of `count` rows, in double, by two passes over
 * each: the rows are in cache for the second pass, and subtracting the mean
 * first keeps the variance accurate when |mean| >> spread, where
 * E[x^2] - E[x]^2 in float would cancel catastrophically.
 */
static inline __attribute__((always_inline)) void rows_moments(const int count, const float *x, int64_t ld,
                                                               int64_t n, widen4_fn *widen, double *mean,
                                                               double *var) {
    rows_mean(count, x, ld, n, widen, mean);
    lanes4 sq[ROWS_TOGETHER][4] = {{{0}}};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int r = 0; r < count; r++)
            for (int v = 0; v < 4; v++) {
                lanes4 d;
                widen(&d, x + r * ld + i + 4 * v);
                d -= mean[r];
                sq[r][v] += d * d;
            }
    for (int r = 0; r < count; r++) {
        double tail = 0;
        for (int64_t k = i; k < n; k++) {
            const double d = x[r * ld + k] - mean[r];
            tail += d * d;
        }
        var[r] = lanes_sum(sq[r], tail) / (double)n;
    }
}

static inline __attribute__((always_inline)) void apply_row(float *y, const float *x, float mean, float mean_lo,
                                                            float rstd, const float *gamma, const float *beta,
                                                            int64_t cols) {
    for (int64_t j = 0; j < cols; j++) {
        float v = nf_layernorm_xhat(x[j], mean, mean_lo, rstd);
        if (gamma != NULL) v *= gamma[j];
        if (beta != NULL) v += beta[j];
        y[j] = v;
    }
}

void nf_layernorm_apply_row_f32(float *y, const float *x, float mean, float mean_lo, float rstd,
                                const float *gamma, const float *beta, int64_t cols) {
    apply_row(y, x, mean, mean_lo, rstd, gamma, beta, cols);
}

/* The forward of `count` consecutive rows of x and y (cols apart); mean_out and rstd_out may be NULL. */
static inline __attribute__((always_inline)) void rows_forward(const int count, float *y, float *mean_out,
                                                               float *rstd_out, const float *x, const float *gamma,
                                                               const float *beta, int64_t cols, float eps,
                                                               widen4_fn *widen) {
    double mean_d[ROWS_TOGETHER], var_d[ROWS_TOGETHER];
    rows_moments(count, x, cols, cols, widen, mean_d, var_d);
    for (int r = 0; r < count; r++) {
        const float mean = (float)mean_d[r];
        const float mean_lo = (float)(mean_d[r] - (double)mean);
        const float rstd = nf_layernorm_rstd(var_d[r], eps);
        apply_row(y + r * cols, x + r * cols, mean, mean_lo, rstd, gamma, beta, cols);
        if (mean_out != NULL) mean_out[r] = mean;
        if (rstd_out != NULL) rstd_out[r] = rstd;
    }
}

/*
 * The forward of up to ROWS_TOGETHER rows at each level: the same C, compiled
 * for each instruction set, so the levels run the same operations in the same
 * order and agree bit for bit (no level contracts a multiply and an add
 * here). The scalar level takes one row at a time: two rows' sums would not
 * fit in the sixteen SSE registers.
 */
typedef void rows_fn(int count, float *y, float *mean, float *rstd, const float *x, const float *gamma,
                     const float *beta, int64_t cols, float eps);

static void rows_scalar(int count, float *y, float *mean, float *rstd, const float *x, const float *gamma,
                        const float *beta, int64_t cols, float eps) {
    for (int r = 0; r < count; r++)
        rows_forward(1, y + r * cols, mean != NULL ? mean + r : NULL, rstd != NULL ? rstd + r : NULL, x + r * cols,
                     gamma, beta, cols, eps, widen4);
}

#if NF_HAVE_X86_LEVELS
NF_TARGET_AVX2 static void rows_avx2(int count, float *y, float *mean, float *rstd, const float *x,
                                     const float *gamma, const float *beta, int64_t cols, float eps) {
    if (count == 2)
        rows_forward(2, y, mean, rstd, x, gamma, beta, cols, eps, widen4_avx2);
    else
        rows_forward(1, y, mean, rstd, x, gamma, beta, cols, eps, widen4_avx2);
}

NF_TARGET_AVX512 static void rows_avx512(int count, float *y, float *mean, float *rstd, const float *x,
                                         const float *gamma, const float *beta, int64_t cols, float eps) {
    if (count == 2)
        rows_forward(2, y, mean, rstd, x, gamma, beta, cols, eps, widen4_avx2);
    else
        rows_forward(1, y, mean, rstd, x, gamma, beta, cols, eps, widen4_avx2);
}

static rows_fn *const ROWS[NF_CPU_LEVELS] = {rows_scalar, rows_avx2, rows_avx512};
#else
static rows_fn *const ROWS[NF_CPU_LEVELS] = {rows_scalar, rows_scalar, rows_scalar};
#endif

void nf_layernorm_rows_f32(int level, float *y, float *mean_out, float *rstd_out, const float *x,
                           const float *gamma, const float *beta, int64_t rows, int64_t cols, float eps) {
    for (int64_t r = 0; r < rows; r += ROWS_TOGETHER) {
        const int count = rows - r < ROWS_TOGETHER ? (int)(rows - r) : ROWS_TOGETHER;
        ROWS[level](count, y + r * cols, mean_out != NULL ? mean_out + r : NULL,
                    rstd_out != NULL ? rstd_out + r : NULL, x + r * cols, gamma, beta, cols, eps);
    }
}

float nf_layernorm_mean_lo_f32(const float *x, int64_t cols, float mean) {
    double mean_d;
    rows_mean(1, x, cols, cols, widen4, &mean_d);
    return (float)(mean_d - (double)mean);
}

int32_t nf_layernorm_check_eps(const char *op, float eps) {
    if (!(eps >= 0.0f) || isinf(eps))
        return nf_fail(NF_ERR_INVALID_ARGUMENT, "%s: eps must be finite and >= 0, got %g", op,
                       (double)eps);
    return NF_OK;
}

int32_t nf_layernorm_fwd_check(const char *op, const float *y, const float *x, int64_t rows, int64_t cols,
                               float eps) {
    NF_CHECK_PTR(op, y);
    NF_CHECK_PTR(op, x);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    return nf_layernorm_check_eps(op, eps);
}

int32_t nf_layernorm_bwd_check(const char *op, const float *dx, const float *dgamma, const float *dbeta,
                               const float *dy, const float *x, const float *mean, const float *rstd,
                               const float *gamma, int64_t rows, int64_t cols, int32_t accumulate) {
    NF_CHECK_PTR(op, dy);
    NF_CHECK_PTR(op, x);
    NF_CHECK_PTR(op, mean);
    NF_CHECK_PTR(op, rstd);
    NF_CHECK_POSITIVE(op, rows);
    NF_CHECK_POSITIVE(op, cols);
    NF_CHECK_FLAG(op, accumulate);
    const int64_t n = rows * cols;
    const nf_span outputs[] = {NF_SPAN(dx, n), NF_SPAN(dgamma, cols), NF_SPAN(dbeta, cols)};
    const nf_span inputs[] = {NF_SPAN(dy, n), NF_SPAN(x, n), NF_SPAN(mean, rows), NF_SPAN(rstd, rows),
                              NF_SPAN(gamma, cols)};
    return nf_check_disjoint(op, outputs, 3, inputs, 5);
}

NF_API int32_t nf_layernorm_fwd_f32(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta, int64_t rows,
                                    int64_t cols, float eps) {
    static const char op[] = "nf_layernorm_fwd_f32";
    int32_t status = nf_layernorm_fwd_check(op, y, x, rows, cols, eps);
    if (status != NF_OK) return status;
    int level;
    status = nf_cpu_level_for(op, &level);
    if (status != NF_OK) return status;

    const int parallel = rows > 1 && rows * cols >= NF_PARALLEL_MIN_WORK;
    /* Pairs of rows, the unit nf_layernorm_rows_f32 sums together; a row's bits do not depend on the pairing. */
    const int64_t pairs = (rows + 1) / 2;
    NF_PARALLEL_IF(parallel, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t p = 0; p < pairs; p++) {
            const int64_t r = 2 * p;
            nf_layernorm_rows_f32(level, y + r * cols, mean ? mean + r : NULL, rstd ? rstd + r : NULL, x + r * cols,
                                  gamma, beta, rows - r < 2 ? rows - r : 2, cols, eps);
        }
    );
    return NF_OK;
}

/* g = dy * gamma (gamma NULL is 1), exact in double. */
static inline double scaled_grad(const float *dy, const float *gamma, int64_t j) {
    return gamma != NULL ? (double)dy[j] * (double)gamma[j] : (double)dy[j];
}

/*
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) over one row, with
 * g = dy * gamma: the chain rule through the row's mean and variance, as
 * PyTorch's layer_norm_backward computes it. The two means are summed in
 * double in eight lanes (a fixed order) and the bracket, which cancels when
 * g is nearly affine in xhat, is evaluated in double, so dx carries the
 * float rounding of xhat and its own, little else. dx may be dy.
 */
static void bwd_row(float *dx, const float *dy, const float *x, float mean, float mean_lo, float rstd,
                    const float *gamma, int64_t cols) {
    double lane_g[8] = {0};
    double lane_gx[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8)
        for (int l = 0; l < 8; l++) {
            const double g = scaled_grad(dy, gamma, j + l);
            lane_g[l] += g;
            lane_gx[l] += g * nf_layernorm_xhat(x[j + l], mean, mean_lo, rstd);
        }
    double sum_g = 0;
    double sum_gx = 0;
    for (; j < cols; j++) {
        const double g = scaled_grad(dy, gamma, j);
        sum_g += g;
        sum_gx += g * nf_layernorm_xhat(x[j], mean, mean_lo, rstd);
    }
    for (int l = 0; l < 8; l++) {
        sum_g += lane_g[l];
        sum_gx += lane_gx[l];
    }
    const double mean_g = sum_g / (double)cols;
    const double mean_gx = sum_gx / (double)cols;
    for (j = 0; j < cols; j++) {
        const float xhat = nf_layernorm_xhat(x[j], mean, mean_lo, rstd);
        dx[j] = nf_layernorm_dx(rstd, scaled_grad(dy, gamma, j), mean_g, xhat, mean_gx);
    }
}

/* Columns per range of dgamma, the parallel unit, as for the column sums of gemm.h. */
#define DGAMMA_COLS 64

/*
 * dgamma[j] = sum_r dy[r, j] * xhat[r, j], in double in ascending r; each
 * range of columns is one thread's, so the threads never split a sum.
 */
static void dgamma_columns(float *dgamma, const float *dy, const float *x, const float *mean,
                           const float *mean_lo, const float *rstd, int64_t rows, int64_t cols,
                           int accumulate) {
#pragma omp for schedule(static)
    for (int64_t j0 = 0; j0 < cols; j0 += DGAMMA_COLS) {
        const int64_t n = cols - j0 < DGAMMA_COLS ? cols - j0 : DGAMMA_COLS;
        double acc[DGAMMA_COLS] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *dy_r = dy + r * cols + j0;
            const float *x_r = x + r * cols + j0;
            for (int64_t j = 0; j < n; j++)
                acc[j] += (double)dy_r[j] * nf_layernorm_xhat(x_r[j], mean[r], mean_lo[r], rstd[r]);
        }
        for (int64_t j = 0; j < n; j++) nf_store_grad(dgamma + j0 + j, (float)acc[j], accumulate);
    }
}

void nf_layernorm_bwd_team_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                               const float *mean, const float *mean_lo, const float *rstd,
                               const float *gamma, int64_t rows, int64_t cols, int accumulate) {
    if (dgamma != NULL) dgamma_columns(dgamma, dy, x, mean, mean_lo, rstd, rows, cols, accumulate);
    if (dbeta != NULL) nf_gemm_column_sums_f32(dbeta, dy, rows, cols, accumulate);
    if (dx != NULL) {
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++)
            bwd_row(dx + r * cols, dy + r * cols, x + r * cols, mean[r], mean_lo[r], rstd[r], gamma, cols);
    }
}

NF_API int32_t nf_layernorm_bwd_f32(float *dx, float *dgamma, float *dbeta, const float *dy,
                                    const float *x, const float *mean, const float *rstd,
                                    const float *gamma, int64_t rows, int64_t cols,
                                    int32_t accumulate) {
    static const char op[] = "nf_layernorm_bwd_f32";
    const int32_t status = nf_layernorm_bwd_check(op, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, rows, cols,
                                                  accumulate);
    if (status != NF_OK) return status;
    const int64_t n = rows * cols;

    float *mean_lo = malloc(sizeof(float) * (size_t)rows);
    if (mean_lo == NULL)
        return nf_fail(NF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld floats of scratch", op,
                       (long long)rows);
    NF_PARALLEL_IF(n >= NF_PARALLEL_MIN_WORK, nf_threads(),
        _Pragma("omp for schedule(static)")
        for (int64_t r = 0; r < rows; r++) mean_lo[r] = nf_layernorm_mean_lo_f32(x + r * cols, cols, mean[r]);
        nf_layernorm_bwd_team_f32(dx, dgamma, dbeta, dy, x, mean, mean_lo, rstd, gamma, rows, cols,
                                  accumulate);
    );
    free(mean_lo);
    return NF_OK;
}
