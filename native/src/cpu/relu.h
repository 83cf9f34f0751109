/*
 * ReLU over a contiguous span, forward and backward, shared by relu.c and the
 * fused linear_ln_relu.c. Internal: hidden, not part of the ABI.
 */
#ifndef NF_CPU_RELU_H
#define NF_CPU_RELU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y[i] = max(x[i], 0) for i < n with the semantics of nf_relu_fwd_f32; y may be x. */
void nf_relu_span_f32(float *y, const float *x, int64_t n);

/* dx[i] = y[i] <= 0 ? 0 : dy[i] for i < n with the semantics of nf_relu_bwd_f32; dx may be dy or y. */
void nf_relu_bwd_span_f32(float *dx, const float *dy, const float *y, int64_t n);

/*
 * The checks of nf_relu_fwd_f32 and nf_relu_bwd_f32, in their order and with
 * their messages under the name op, for every backend (the pointers are only
 * compared). NF_OK, or op's failure status.
 */
int32_t nf_relu_fwd_check(const char *op, const float *y, const float *x, int64_t n);
int32_t nf_relu_bwd_check(const char *op, const float *dx, const float *dy, const float *y, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
