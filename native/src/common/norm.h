/*
 * The element and statistic rules of LayerNorm and BatchNorm, shared by the
 * C kernels (cpu/layernorm.c, cpu/batchnorm.c) and the CUDA kernels
 * (cuda/layernorm.cu, cuda/batchnorm.cu), so that both backends round the
 * same quantities in the same order.
 */
#ifndef NF_COMMON_NORM_H
#define NF_COMMON_NORM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "host_device.h"

/*
 * The normalized x of the forward pass, xhat = (x - mean) * rstd, with the
 * row mean as a float pair (mean + mean_lo): x - mean is exact when x is
 * within a factor of two of mean (Sterbenz), so a large mean costs no
 * accuracy. Forward and backward passes both use it, so the backward pass
 * sees the forward's xhat bit for bit.
 */
static inline NF_HOST_DEVICE float nf_layernorm_xhat(float x, float mean, float mean_lo, float rstd) {
    return ((x - mean) - mean_lo) * rstd;
}

/* LayerNorm's saved rstd: 1 / sqrt(var + eps) in double (var the biased variance, in double), rounded once. */
static inline NF_HOST_DEVICE float nf_layernorm_rstd(double var, float eps) {
    return (float)(1.0 / sqrt(var + (double)eps));
}

/*
 * LayerNorm's dx from g = dy * gamma, the row means of g and g * xhat, and
 * xhat: rstd * ((g - mean(g)) - xhat * mean(g * xhat)), PyTorch's
 * layer_norm_backward, evaluated in double (the bracket cancels when g is
 * nearly affine in xhat) and rounded once.
 */
static inline NF_HOST_DEVICE float nf_layernorm_dx(float rstd, double g, double mean_g, float xhat,
                                                   double mean_gx) {
    return (float)((double)rstd * ((g - mean_g) - (double)xhat * mean_gx));
}

/*
 * 1 / sqrt(var + eps), except 0 when var and eps are both 0: PyTorch's InvStd,
 * so that a constant column in training gives beta rather than NaN.
 */
static inline NF_HOST_DEVICE double nf_batchnorm_inv_std(double var, float eps) {
    if (var == 0.0 && eps == 0.0f) return 0.0;
    return 1.0 / sqrt(var + (double)eps);
}

/* PyTorch's inference path takes 1 / sqrt(var + eps) as is: no InvStd guard. */
static inline NF_HOST_DEVICE double nf_batchnorm_running_rstd(float running_var, float eps) {
    return 1.0 / sqrt((double)running_var + (double)eps);
}

/* PyTorch's running-statistic update, momentum * batch + (1 - momentum) * running, in double. */
static inline NF_HOST_DEVICE float nf_batchnorm_running_update(float momentum, double batch, float running) {
    const double m = momentum;
    return (float)(m * batch + (1.0 - m) * (double)running);
}

/*
 * A column's map y = ((x - hi) - lo) * scale + shift. The mean is a float
 * pair (hi + lo): x - hi is exact when x is within a factor of two of hi
 * (Sterbenz), so a large mean costs no accuracy; scale = rstd * gamma is
 * rounded once, from double.
 */
typedef struct {
    float hi, lo, scale, shift;
} nf_batchnorm_affine;

/* gamma and beta NULL stand for 1 and 0, as PyTorch substitutes for an undefined weight and bias. */
static inline NF_HOST_DEVICE nf_batchnorm_affine nf_batchnorm_affine_of(double mean, double rstd, const float *gamma,
                                                                        const float *beta, int64_t j) {
    nf_batchnorm_affine a;
    a.hi = (float)mean;
    a.lo = (float)(mean - (double)a.hi);
    a.scale = (float)(gamma != NULL ? rstd * (double)gamma[j] : rstd);
    a.shift = beta != NULL ? beta[j] : 0.0f;
    return a;
}

static inline NF_HOST_DEVICE float nf_batchnorm_apply(float x, float hi, float lo, float scale, float shift) {
    return ((x - hi) - lo) * scale + shift;
}

/* BatchNorm's dx as its column's affine map a * dy + b * (x - mean) + k, in double, rounded once. */
static inline NF_HOST_DEVICE float nf_batchnorm_dx(double a, double b, double k, float dy, float x, float mean) {
    return (float)(a * (double)dy + b * ((double)x - (double)mean) + k);
}

#endif
