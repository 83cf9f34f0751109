/*
 * The LayerNorm of one row, shared by layernorm.c and the fused
 * linear_ln_relu.c. Internal: hidden, not part of the ABI.
 */
#ifndef NF_CPU_LAYERNORM_H
#define NF_CPU_LAYERNORM_H

#include <stdint.h>

/*
 * y = (x - mean) * rstd * gamma + beta over one row of cols elements, with the
 * semantics of nf_layernorm_fwd_f32; y may be x (in place). gamma, beta, mean
 * and rstd may be NULL. The caller validates the rest.
 */
void nf_layernorm_row_f32(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                          const float *beta, int64_t cols, float eps);

/* NF_OK when eps is finite and >= 0; otherwise records op's failure and returns its status. */
int32_t nf_layernorm_check_eps(const char *op, float eps);

#endif
