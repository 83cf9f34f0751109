/*
 * The Linear routines shared by linear.c and the fused linear_ln_relu.c.
 * Internal: hidden, not part of the ABI.
 */
#ifndef NF_CPU_LINEAR_H
#define NF_CPU_LINEAR_H

#include <stdint.h>

#include "gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The scratch of nf_linear_bwd_team_f32 for these sizes, at `level`, for up
 * to `threads` threads; records op's failure and returns its status when it
 * cannot be allocated.
 */
int32_t nf_linear_bwd_workspace_alloc(nf_gemm_workspace *ws, const char *op, int level, int threads, int64_t rows,
                                      int64_t in_features, int64_t out_features, int accumulate);

/*
 * dx = dy weight, dweight = dy^T x and dbias = the column sums of dy, with the
 * semantics of nf_linear_bwd_f32; each output may be NULL. Shares its work
 * among the team like the routines of gemm.h: every thread of the team must
 * call it. The caller validates the arguments.
 */
void nf_linear_bwd_team_f32(const nf_gemm_workspace *ws, float *dx, float *dweight, float *dbias, const float *dy,
                            const float *x, const float *weight, int64_t rows, int64_t in_features,
                            int64_t out_features, int accumulate);

/* Whether the backward products of these sizes are big enough to pay for a parallel region. */
int nf_linear_bwd_worth_parallel(int64_t rows, int64_t in_features, int64_t out_features);

/*
 * The floats of a packed weight of these sizes (nf_linear_packed_numel),
 * or op's failure when the count overflows.
 */
int32_t nf_linear_packed_numel_for(const char *op, int64_t *numel, int64_t in_features, int64_t out_features);

/*
 * The argument checks of the forward entry points, in their order and with
 * their messages under the name op, for every backend (the pointers are only
 * compared): weight is the weight, or the packed weight when packed = 1.
 * NF_OK, or op's failure status.
 */
int32_t nf_linear_fwd_check(const char *op, const float *y, const float *x, const float *weight, int packed,
                            const float *bias, int64_t rows, int64_t in_features, int64_t out_features);

/* The argument checks of nf_linear_bwd_f32, as nf_linear_fwd_check's. */
int32_t nf_linear_bwd_check(const char *op, const float *dx, const float *dweight, const float *dbias,
                            const float *dy, const float *x, const float *weight, int64_t rows, int64_t in_features,
                            int64_t out_features, int32_t accumulate);

#ifdef __cplusplus
}
#endif

#endif
