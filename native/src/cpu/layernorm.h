/*
 * The LayerNorm routines shared by layernorm.c and the fused
 * linear_ln_relu.c. Internal: hidden, not part of the ABI.
 */
#ifndef NF_CPU_LAYERNORM_H
#define NF_CPU_LAYERNORM_H

#include <stddef.h>
#include <stdint.h>

#include "../common/norm.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * y = xhat * gamma + beta over one row of cols elements, xhat as
 * nf_layernorm_xhat computes it; gamma and beta may each be NULL (1 and 0).
 * y may be x (in place).
 */
void nf_layernorm_apply_row_f32(float *y, const float *x, float mean, float mean_lo, float rstd,
                                const float *gamma, const float *beta, int64_t cols);

/*
 * y = (x - mean) * rstd * gamma + beta over each of `rows` consecutive rows
 * of cols elements, with the semantics of nf_layernorm_fwd_f32, by the code
 * of `level` (an NF_CPU_LEVEL_*; every level gives the same bits, and a row's
 * bits do not depend on its neighbours); y may be x (in place). gamma, beta,
 * mean ([rows]) and rstd ([rows]) may be NULL. The caller validates the rest.
 */
void nf_layernorm_rows_f32(int level, float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, int64_t rows, int64_t cols, float eps);

/*
 * The low part of one row's mean: the row's mean summed again in double
 * exactly as the forward pass sums it, less mean (the forward's float
 * rounding of it), rounded to float. With it nf_layernorm_xhat reproduces the
 * forward's xhat from the saved float mean.
 */
float nf_layernorm_mean_lo_f32(const float *x, int64_t cols, float mean);

/*
 * The LayerNorm backward pass over rows whose mean_lo ([rows]) is known, with
 * the semantics of nf_layernorm_bwd_f32; dx, dgamma and dbeta may each be
 * NULL. dx may be dy (in place): the parameter gradients, which read dy, are
 * complete before dx is written. Shares its work among the team like the
 * routines of gemm.h: every thread of the team must call it.
 */
void nf_layernorm_bwd_team_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                               const float *mean, const float *mean_lo, const float *rstd,
                               const float *gamma, int64_t rows, int64_t cols, int accumulate);

/* NF_OK when eps is finite and >= 0; otherwise records op's failure and returns its status. */
int32_t nf_layernorm_check_eps(const char *op, float eps);

/*
 * The argument checks of nf_layernorm_fwd_f32 and nf_layernorm_bwd_f32, in
 * their order and with their messages under the name op, for every backend's
 * entry point (the pointers are only compared). NF_OK, or op's failure status.
 */
int32_t nf_layernorm_fwd_check(const char *op, const float *y, const float *x, int64_t rows, int64_t cols, float eps);
int32_t nf_layernorm_bwd_check(const char *op, const float *dx, const float *dgamma, const float *dbeta,
                               const float *dy, const float *x, const float *mean, const float *rstd,
                               const float *gamma, int64_t rows, int64_t cols, int32_t accumulate);

#ifdef __cplusplus
}
#endif

#endif
