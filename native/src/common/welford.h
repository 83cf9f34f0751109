/*
 * Streaming mean and variance in double: Welford's update (1962) adds one
 * sample, Chan, Golub and LeVeque's merge (1979) combines two partial results.
 * Both keep the sum of squared deviations from the running mean (m2), so the
 * variance never comes from E[x^2] - E[x]^2, which cancels catastrophically
 * when |mean| >> spread. Header-only so that CPU and CUDA kernels share it.
 */
#ifndef NF_COMMON_WELFORD_H
#define NF_COMMON_WELFORD_H

#include "host_device.h"

/* count samples with mean `mean` and sum of squared deviations `m2`. */
typedef struct {
    double count;
    double mean;
    double m2;
} nf_welford;

/*
 * Adds sample x as the k-th one (k >= 1) to (mean, m2), given inv_k = 1 / k:
 * callers folding many columns row by row share one division per row.
 */
static inline NF_HOST_DEVICE void nf_welford_add(double *mean, double *m2, double x, double inv_k) {
    const double delta = x - *mean;
    *mean += delta * inv_k;
    *m2 += delta * (x - *mean);
}

/* The statistics of the union of the samples of a and b; either may be empty. */
static inline NF_HOST_DEVICE nf_welford nf_welford_merge(nf_welford a, nf_welford b) {
    if (b.count == 0) return a;
    if (a.count == 0) return b;
    const double count = a.count + b.count;
    const double delta = b.mean - a.mean;
    const double b_share = b.count / count;
    nf_welford r;
    r.count = count;
    r.mean = a.mean + delta * b_share;
    r.m2 = a.m2 + b.m2 + delta * delta * a.count * b_share;
    return r;
}

#endif
