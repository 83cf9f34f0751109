/*
 * The softmax family's per-element rules, shared by the C kernels
 * (cpu/softmax.c, cpu/cross_entropy.c) and the CUDA ones (cuda/softmax.cuh).
 */
#ifndef NF_COMMON_SOFTMAX_H
#define NF_COMMON_SOFTMAX_H

#include <math.h>

#include "host_device.h"

/*
 * exp(x - max) as expf of the float difference u = x - max, with that
 * subtraction's rounding error r = (x - max) - u (exact in double) put back:
 * exp(u + r) = expf(u) * (1 + r) up to r^2 / 2. Without it, the half-ulp error
 * of u (up to 2^-24 |u|) becomes a relative error of |u| * 6e-8 in the result,
 * 5e-6 for probabilities near e^-87; with it only expf's is left (glibc:
 * < 1 ulp; CUDA: <= 2 ulp, CUDA C Programming Guide, "Mathematical Functions").
 * Nothing to correct when expf gives 0 (x = -inf, underflow) or NaN.
 */
static inline NF_HOST_DEVICE double nf_exp_shifted(float x, float max) {
    const float u = x - max;
    const double e = expf(u);
    if (!(e > 0.0)) return e;
    const double r = ((double)x - (double)max) - (double)u;
    return e * (1.0 + r);
}

#endif
