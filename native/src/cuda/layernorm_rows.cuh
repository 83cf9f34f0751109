/*
 * LayerNorm's row arithmetic on the GPU with cpu/layernorm.c's summation
 * orders, so that a row normalized here has the CPU backend's mean, rstd and
 * output bit for bit (the sums are in double and each addition is the CPU's,
 * in the CPU's order; --fmad=false keeps every product a separate rounding).
 *
 * A row belongs to a half-warp: its 16 lanes are the CPU's 16 lanes of
 * rows_mean/rows_moments (lane l sums elements l, l + 16, ... of the full
 * groups of 16), and an xor butterfly over offsets 8, 4, 2, 1 adds them in
 * lanes_sum's tree: (l + l^8), then + (l^4 ...), then the pairs of the
 * 4-vector, which is ((v0 + v2) + (v1 + v3)). The tail (the last cols % 16
 * elements) is summed in ascending order by every lane alike and added last.
 *
 * Every lane of the warp must call these functions together (they shuffle
 * across the whole warp); a half-warp with no row passes active = false.
 */
#ifndef NF_CUDA_LAYERNORM_ROWS_CUH
#define NF_CUDA_LAYERNORM_ROWS_CUH

#include "common.cuh"
#include "../common/norm.h"

/* One row's statistics as cpu/layernorm.c keeps them: the mean as a float pair (mean + mean_lo), and rstd. */
struct nf_ln_stats {
    float mean, mean_lo, rstd;
};

/* The lane of the calling thread within its half-warp. */
__device__ __forceinline__ int nf_half_lane() { return threadIdx.x & 15; }

/* lanes_sum of cpu/layernorm.c over the half-warp's 16 lane sums, in every lane of the half, plus tail. */
__device__ __forceinline__ double nf_ln_lanes_sum(double lane_sum, double tail) {
    for (int offset = 8; offset > 0; offset /= 2) lane_sum += __shfl_xor_sync(NF_FULL_WARP, lane_sum, offset);
    return lane_sum + tail;
}

/* rows_mean of cpu/layernorm.c: the mean of x[0, n) in double, in every lane of the half-warp. */
__device__ __forceinline__ double nf_ln_row_mean(const float *x, int64_t n, bool active) {
    double lane_sum = 0.0, tail = 0.0;
    if (active) {
        const int lane = nf_half_lane();
        const int64_t full = n / 16 * 16;
        for (int64_t i = 0; i < full; i += 16) lane_sum += (double)x[i + lane];
        for (int64_t i = full; i < n; i++) tail += (double)x[i];
    }
    return nf_ln_lanes_sum(lane_sum, tail) / (double)n;
}

/*
 * row_forward's statistics of cpu/layernorm.c: the mean and the biased
 * variance by two passes in double, and rstd by nf_layernorm_rstd
 * (common/norm.h; the double division and sqrt are correctly rounded on the
 * GPU too).
 */
__device__ __forceinline__ nf_ln_stats nf_ln_row_stats(const float *x, int64_t n, float eps, bool active) {
    const double mean = nf_ln_row_mean(x, n, active);
    double lane_sum = 0.0, tail = 0.0;
    if (active) {
        const int lane = nf_half_lane();
        const int64_t full = n / 16 * 16;
        for (int64_t i = 0; i < full; i += 16) {
            const double d = (double)x[i + lane] - mean;
            lane_sum += d * d;
        }
        for (int64_t i = full; i < n; i++) {
            const double d = (double)x[i] - mean;
            tail += d * d;
        }
    }
    const double var = nf_ln_lanes_sum(lane_sum, tail) / (double)n;
    nf_ln_stats s;
    s.mean = (float)mean;
    s.mean_lo = (float)(mean - (double)s.mean);
    s.rstd = nf_layernorm_rstd(var, eps);
    return s;
}

/* apply_row of cpu/layernorm.c for element j, given its xhat: xhat * gamma + beta, gamma and beta optional. */
__device__ __forceinline__ float nf_ln_affine(float xhat, const float *gamma, const float *beta, int64_t j) {
    float v = xhat;
    if (gamma != nullptr) v *= gamma[j];
    if (beta != nullptr) v += beta[j];
    return v;
}

/*
 * bwd_row's two means of cpu/layernorm.c for one row of cols elements:
 * mean_g = mean(g) and mean_gx = mean(g * xhat), with g(j) (a double) and
 * xhat(j) (a float) given by row. The CPU sums them in eight lanes (lane l
 * takes elements l, l + 8, ... of the full groups of 8), then the tail in
 * ascending order from 0, then adds lanes 0..7 to it one by one; here lanes
 * 0-7 of the half-warp hold the lanes of sum(g), lanes 8-15 those of
 * sum(g * xhat), and every lane adds the tail and the sixteen lanes in that
 * order, so every lane ends with both means.
 */
template <class Row>
__device__ __forceinline__ void nf_ln_bwd_means(const Row &row, int64_t cols, bool active, double *mean_g,
                                                double *mean_gx) {
    const int lane = nf_half_lane();
    const int l = lane & 7;
    const bool of_gx = lane >= 8;
    double lane_sum = 0.0, tail_g = 0.0, tail_gx = 0.0;
    if (active) {
        const int64_t full = cols / 8 * 8;
        for (int64_t j = 0; j < full; j += 8) {
            const double g = row.g(j + l);
            lane_sum += of_gx ? g * (double)row.xhat(j + l) : g;
        }
        for (int64_t j = full; j < cols; j++) {
            const double g = row.g(j);
            tail_g += g;
            tail_gx += g * (double)row.xhat(j);
        }
    }
    const int base = threadIdx.x & 31 & ~15;
    for (int k = 0; k < 8; k++) {
        tail_g += __shfl_sync(NF_FULL_WARP, lane_sum, base + k);
        tail_gx += __shfl_sync(NF_FULL_WARP, lane_sum, base + 8 + k);
    }
    *mean_g = tail_g / (double)cols;
    *mean_gx = tail_gx / (double)cols;
}

#endif
