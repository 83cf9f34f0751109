/*
 * The Linear backward pass, shared by linear.c and the fused
 * linear_ln_relu.c. Internal: hidden, not part of the ABI.
 */
#ifndef NF_CPU_LINEAR_H
#define NF_CPU_LINEAR_H

#include <stdint.h>

/*
 * dx = dy weight, dweight = dy^T x and dbias = the column sums of dy, with the
 * semantics of nf_linear_bwd_f32; each output may be NULL. Shares its work
 * among the team like the routines of gemm.h: every thread of the team must
 * call it. The caller validates the arguments.
 */
void nf_linear_bwd_team_f32(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                            const float *weight, int64_t rows, int64_t in_features, int64_t out_features,
                            int accumulate);

/* Whether the backward products of these sizes are big enough to pay for a parallel region. */
int nf_linear_bwd_worth_parallel(int64_t rows, int64_t in_features, int64_t out_features);

#endif
